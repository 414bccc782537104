"""Payout runs built by real Celery worker processes in parallel (Redis, PostgreSQL): the
same random sequences as the property test, with every run's chunks (one seller each)
sent to two workers; after every step nothing is paid twice, nothing available is left
behind and check_ledger holds."""

import threading
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.stateful import rule, run_state_machine_as_test

from marketplace.celery import app as celery_app
from marketplace.tests.workers import CeleryWorkers, database_url
from payouts import services
from payouts.ledger import ledger_check
from payouts.models import Earning, Payout, PayoutAccount, PayoutRun
from payouts.tasks import run_payout_chunk

from .conftest import Payouts
from .test_properties import SellerMoney

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 2
# Counted from the moment both workers answer, so a slow start on a loaded machine is not
# counted; generous, since a loaded 2-core machine can stall a process for seconds.
RUN_WITHIN_SECONDS = 120


class SellerMoneyWithWorkers(SellerMoney):
    """Runs commit for real here (the workers must see the rows), so each example starts
    from an emptied database instead of rolling back to a savepoint."""

    workers: CeleryWorkers

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
    """Two worker processes on a queue of this test's own, which the chunks are sent to;
    the test starts once both answer a ping."""
    was_eager, apply_async = celery_app.conf.task_always_eager, run_payout_chunk.apply_async
    with CeleryWorkers(WORKERS, database=database_url(), label="payouts") as started:
        try:
            celery_app.conf.task_always_eager = False  # the test settings run tasks in-process
            run_payout_chunk.apply_async = lambda *args, **kw: apply_async(*args, queue=started.queue, **kw)
            yield started
        finally:
            run_payout_chunk.apply_async = apply_async
            celery_app.conf.task_always_eager = was_eager


def _wait_for(condition, what: str, workers: CeleryWorkers) -> None:
    deadline = time.monotonic() + RUN_WITHIN_SECONDS
    while not condition():
        workers.check_alive()
        assert time.monotonic() < deadline, f"waited {RUN_WITHIN_SECONDS} s for {what}"
        time.sleep(0.05)  # waiting on other processes, not on the clock under test


def _wait_until_done(run, workers: CeleryWorkers) -> None:
    _wait_for(
        lambda: PayoutRun.objects.filter(pk=run.pk, status="done").exists(), "the run to close", workers
    )


def _backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@contextmanager
def payout_accounts_locked():
    """Hold every payout account's row lock (as a seller changing their details would) in
    another connection: a chunk with a seller in it waits inside its transaction until
    the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(PayoutAccount.objects.select_for_update())
                locked.set()
                release.wait(timeout=RUN_WITHIN_SECONDS * 2)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        yield
    finally:
        release.set()
        holder.join()


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


def test_both_workers_build_chunks_of_one_run_at_once_and_each_seller_is_paid_once(workers):
    p = Payouts()
    day = date(2026, 2, 1)
    sellers = [p.seller() for _ in range(15)]
    for index, seller in enumerate(sellers):
        p.complete(at=datetime(2026, 1, 2, tzinfo=UTC), seller=seller, amount=1_000 + index)
        p.complete(at=datetime(2026, 1, 3, tzinfo=UTC), seller=seller, amount=500, currency="EUR")

    with payout_accounts_locked():
        run = services.payout_run_start(payout_date=day, chunk_size=1)
        # One worker inside a chunk cannot take another message (one task at a time, none
        # prefetched), so the next chunk with a seller goes to the other: both are then
        # building a chunk of the same run at the same moment.
        _wait_for(
            lambda: _backends_waiting_for_a_lock() == WORKERS, "both workers to be inside a chunk", workers
        )
    _wait_until_done(run, workers)

    built_by = {int(who.rsplit(":", 1)[-1]) for who in run.chunks.values_list("done_by", flat=True)}
    assert built_by == workers.pids  # spread over both, nobody else
    assert Payout.objects.filter(payout_date=day).count() == 30
    assert not Earning.objects.filter(payout__isnull=True).exists()
    assert ledger_check() == []
    run.refresh_from_db()
    assert (run.payouts_created, run.lines_paid) == (30, 30)
