"""Payout runs built by real Celery worker processes in parallel (Redis, PostgreSQL): the
same random sequences as the property test, with every run's chunks (one seller each)
sent to two workers; after every step nothing is paid twice, nothing available is left
behind and check_ledger holds."""

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.stateful import rule, run_state_machine_as_test

from marketplace.celery import app as celery_app
from payouts import services
from payouts.ledger import ledger_check
from payouts.models import Earning, Payout, PayoutRun
from payouts.tasks import run_payout_chunk

from .conftest import Payouts
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
            if run is not None:
                _wait_until_done(run, self.workers)
            self.last_run, self.run_at = day, now

    def teardown(self):
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def workers():
    """Two worker processes on a queue of this test's own, which the chunks are sent to."""
    queue = f"test-payouts-{uuid.uuid4().hex[:8]}"
    started = [_start_worker(queue, n) for n in range(WORKERS)]
    was_eager, apply_async = celery_app.conf.task_always_eager, run_payout_chunk.apply_async
    try:
        celery_app.conf.task_always_eager = False  # the test settings run tasks in-process
        run_payout_chunk.apply_async = lambda *args, **kw: apply_async(*args, queue=queue, **kw)
        yield started
    finally:
        run_payout_chunk.apply_async = apply_async
        celery_app.conf.task_always_eager = was_eager
        for worker in started:
            worker.terminate()
        for worker in started:
            worker.wait(timeout=30)


def _wait_until_done(run, workers):
    deadline = time.monotonic() + 60
    while not PayoutRun.objects.filter(pk=run.pk, status="done").exists():
        for worker in workers:
            assert worker.poll() is None, worker.stdout.read()
        assert time.monotonic() < deadline, "the workers did not finish the run within 60 s"
        time.sleep(0.05)  # waiting on other processes, not on the clock under test


def test_random_sequences_with_runs_built_by_two_workers_keep_seller_money_exact(workers):
    SellerMoneyWithWorkers.workers = workers
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


def test_both_workers_build_chunks_of_one_run_and_each_seller_is_paid_once(workers):
    p = Payouts()
    day = date(2026, 2, 1)
    sellers = [p.seller() for _ in range(15)]
    for index, seller in enumerate(sellers):
        p.complete(at=datetime(2026, 1, 2, tzinfo=UTC), seller=seller, amount=1_000 + index)
        p.complete(at=datetime(2026, 1, 3, tzinfo=UTC), seller=seller, amount=500, currency="EUR")

    run = services.payout_run_start(payout_date=day, chunk_size=1)
    _wait_until_done(run, workers)

    built_by = {int(who.rsplit(":", 1)[-1]) for who in run.chunks.values_list("done_by", flat=True)}
    assert built_by == {worker.pid for worker in workers}  # spread over both, nobody else
    assert Payout.objects.filter(payout_date=day).count() == 30
    assert not Earning.objects.filter(payout__isnull=True).exists()
    assert ledger_check() == []
    run.refresh_from_db()
    assert (run.payouts_created, run.lines_paid) == (30, 30)
