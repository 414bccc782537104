"""A real Celery worker process, against Redis and PostgreSQL, runs a task end to end."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from marketplace.celery import app as celery_app
from marketplace.models import Heartbeat
from marketplace.tasks import record_heartbeat

ROOT = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_picks_a_task_from_redis_and_its_effect_is_in_the_database():
    queue = f"test-{uuid.uuid4().hex[:8]}"
    name = f"worker-{queue}"
    env = dict(
        os.environ, DATABASE_URL=_test_database_url(), DJANGO_SETTINGS_MODULE="marketplace.settings.base"
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "marketplace",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    was_eager = celery_app.conf.task_always_eager
    try:
        celery_app.conf.task_always_eager = False  # the test settings run tasks in-process
        record_heartbeat.apply_async(kwargs={"name": name}, queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Heartbeat.objects.filter(name=name).exists():
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.2)  # waiting on another process, not on the clock under test
        assert Heartbeat.objects.filter(name=name).exists(), "the worker did not run the task within 60 s"
    finally:
        celery_app.conf.task_always_eager = was_eager
        worker.terminate()
        worker.wait(timeout=30)
