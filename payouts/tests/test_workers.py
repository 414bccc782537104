"""Payout runs built by real Celery worker processes in parallel (Redis, PostgreSQL): the
same random sequences as the property test, with every run's chunks (one seller each)
sent to two workers; after every step nothing is paid twice, nothing available is left
behind and check_ledger holds."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.stateful import rule, run_state_machine_as_test

from marketplace.celery import app as celery_app
from payouts import services
from payouts.models import PayoutRun, PayoutRunChunk
from payouts.tasks import run_payout_chunk

from .test_properties import SellerMoney

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 2


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _start_worker(queue: str, n: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=_database_url(), DJANGO_SETTINGS_MODULE="marketplace.settings.base")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "marketplace", "worker", "--pool", "solo", "-Q", queue,
         "-n", f"payouts{n}-{queue}@%h", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


class SellerMoneyWithWorkers(SellerMoney):
    """Runs commit for real here (the workers must see the rows), so each example starts
    from an emptied database instead of rolling back to a savepoint."""

    workers: list[subprocess.Popen] = []

    def __init__(self):
        super().__init__()
        self.savepoint = None

    @rule()
    def beat_runs_the_due_payouts(self):
        now = self._at(14)
        for day in services.payout_dates_due(now=now):
            run = services.payout_run_start(payout_date=day, chunk_size=1)
            deadline = time.monotonic() + 60
            while run is not None and not PayoutRun.objects.filter(pk=run.pk, status="done").exists():
                for worker in self.workers:
                    assert worker.poll() is None, worker.stdout.read()
                assert time.monotonic() < deadline, "the workers did not finish the run within 60 s"
                time.sleep(0.05)  # waiting on other processes, not on the clock under test
            self.last_run, self.run_at = day, now

    def teardown(self):
        call_command("flush", interactive=False, verbosity=0)


def test_chunks_built_by_two_workers_at_once_keep_seller_money_exact():
    queue = f"test-payouts-{uuid.uuid4().hex[:8]}"
    workers = [_start_worker(queue, n) for n in range(WORKERS)]
    was_eager, apply_async = celery_app.conf.task_always_eager, run_payout_chunk.apply_async
    original_teardown = SellerMoneyWithWorkers.teardown
    built_by = set()

    def teardown(machine):
        built_by.update(PayoutRunChunk.objects.exclude(done_by="").values_list("done_by", flat=True))
        original_teardown(machine)

    try:
        celery_app.conf.task_always_eager = False  # the test settings run tasks in-process
        # Route the chunks to this test's workers only.
        run_payout_chunk.apply_async = lambda *args, **kw: apply_async(*args, queue=queue, **kw)
        SellerMoneyWithWorkers.workers = workers
        SellerMoneyWithWorkers.teardown = teardown
        run_state_machine_as_test(
            SellerMoneyWithWorkers,
            settings=hypothesis_settings(
                max_examples=5,
                stateful_step_count=15,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        SellerMoneyWithWorkers.teardown = original_teardown
        run_payout_chunk.apply_async = apply_async
        celery_app.conf.task_always_eager = was_eager
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    # Each worker process built chunks: the runs were spread, not done by one.
    pids = {int(who.rsplit(":", 1)[-1]) for who in built_by}
    assert {worker.pid for worker in workers} <= pids, built_by
