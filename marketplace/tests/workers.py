"""Real Celery worker processes for the tests and benchmarks that need them (Redis broker,
PostgreSQL): started on a queue of their own, and ready only once each one answers a
ping, so a caller's deadline never counts a slow start on a loaded machine."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url(name: str | None = None) -> str:
    """DATABASE_URL of the database this process is connected to (or of `name` on the
    same server), for a child process that must see the same rows."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name or s['NAME']}"


class CeleryWorkers:
    """`count` worker processes (solo pool, one task at a time, prefetching nothing more:
    a message waits in Redis for whichever worker is free) consuming one fresh queue.

        with CeleryWorkers(2, database=url) as workers:   # returns once both answer
            task.apply_async(..., queue=workers.queue)
    """

    def __init__(
        self,
        count: int,
        *,
        database: str,
        label: str = "worker",
        ready_within: float = 180,
        env: dict[str, str] | None = None,
    ):
        self.queue = f"{label}-{uuid.uuid4().hex[:8]}"
        self.names = [f"{label}{n}-{self.queue}@{socket.gethostname()}" for n in range(count)]
        self.ready_within = ready_within
        self._env = dict(
            os.environ,
            DATABASE_URL=database,
            DJANGO_SETTINGS_MODULE="marketplace.settings.base",
            **(env or {}),
        )
        self.processes: list[subprocess.Popen] = []
        # Output to files, not pipes: a pipe nobody reads would stop a chatty worker.
        self._logs = [tempfile.TemporaryFile(mode="w+") for _ in range(count)]

    @property
    def pids(self) -> set[int]:
        return {process.pid for process in self.processes}

    def command(self, name: str) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "marketplace", "worker", "--pool", "solo",
                "--prefetch-multiplier", "1", "-Q", self.queue, "-n", name,
                "--without-mingle", "--without-gossip", "--loglevel", "WARNING"]  # fmt: skip

    def __enter__(self) -> "CeleryWorkers":
        for name, log in zip(self.names, self._logs, strict=True):
            self.processes.append(
                subprocess.Popen(
                    self.command(name), cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT
                )
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        from marketplace.celery import app

        waiting, deadline = set(self.names), time.monotonic() + self.ready_within
        while waiting:
            self.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Celery workers {sorted(waiting)} did not answer within {self.ready_within} s"
                )
            for reply in app.control.ping(destination=sorted(waiting), timeout=1.0) or []:
                waiting -= set(reply)

    def check_alive(self) -> None:
        """Fail with a dead worker's output."""
        for process, log in zip(self.processes, self._logs, strict=True):
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"a Celery worker exited ({process.returncode}):\n{log.read()}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()
