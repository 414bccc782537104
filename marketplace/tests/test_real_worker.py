"""A real Celery worker process, against Redis and PostgreSQL, runs a task end to end."""

import time

import pytest

from marketplace.celery import app as celery_app
from marketplace.models import Heartbeat
from marketplace.tasks import record_heartbeat

from .workers import CeleryWorkers, database_url


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_picks_a_task_from_redis_and_its_effect_is_in_the_database():
    was_eager = celery_app.conf.task_always_eager
    with CeleryWorkers(1, database=database_url(), label="test") as worker:
        name = f"worker-{worker.queue}"
        try:
            celery_app.conf.task_always_eager = False  # the test settings run tasks in-process
            record_heartbeat.apply_async(kwargs={"name": name}, queue=worker.queue)
            deadline = time.monotonic() + 60  # from the moment the worker answered
            while time.monotonic() < deadline and not Heartbeat.objects.filter(name=name).exists():
                worker.check_alive()
                time.sleep(0.2)  # waiting on another process, not on the clock under test
            assert Heartbeat.objects.filter(name=name).exists(), "the worker did not run the task within 60 s"
        finally:
            celery_app.conf.task_always_eager = was_eager
