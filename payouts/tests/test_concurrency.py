"""Two `run_payouts --date D` at once, as real processes on PostgreSQL, then a third:
exactly one payout per seller and currency for D, and the ledger balances."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from finance.models import PayoutCycleSettings
from marketplace.tests.workers import database_url
from payouts.ledger import ledger_check
from payouts.models import Earning, Payout
from payouts.schedule import schedule_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_payouts(day) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "marketplace.settings.test",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_payouts", "--date", day.isoformat(), "--chunk-size", "3"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _details_change_against(seller, *, started, go):
    """Two racers for `race`: the seller changing their bank details once `started` is set
    (the other side holds its transaction open), and one that waits a second to see whether
    the change is held up by the other side's locks, then lets that side commit (`go`).
    The second returns whether the change had to wait."""
    import threading

    from payouts import payout_accounts

    changed = threading.Event()

    def change():
        assert started.wait(timeout=30)
        account = payout_accounts.payout_account_bank_details_set(
            seller=seller,
            password="s3cret-enough",
            details={"scheme": "iban", "holder_name": "Mallory", "iban": "GB29 NWBK 6016 1331 9268 19"},
        )
        changed.set()
        return account

    def release():
        assert started.wait(timeout=30)
        waited = not changed.wait(timeout=1)
        go.set()
        return waited

    return change, release


def test_two_run_payouts_at_once_then_a_third_pay_each_seller_once(payouts):
    config = PayoutCycleSettings.load()
    today = config.today()
    # The latest payout date up to today, under the default 1st-and-15th schedule.
    day = max(schedule_for(config).payout_dates_between(first=today - timedelta(days=40), last=today))
    completed = datetime.combine(day - timedelta(days=10), datetime.min.time(), UTC)
    sellers = [payouts.seller() for _ in range(30)]
    for index, seller in enumerate(sellers):
        payouts.complete(at=completed, seller=seller, amount=1_000 + index)
        payouts.complete(at=completed + timedelta(hours=1), seller=seller, amount=2_000)
        if index % 3 == 0:
            payouts.complete(at=completed, seller=seller, amount=3_000, currency="EUR")

    first, second = _run_payouts(day), _run_payouts(day)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    third = _run_payouts(day)
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0, err
    assert "already done" in out

    per_key = Payout.objects.filter(payout_date=day).values("seller_id", "currency").annotate(n=Count("id"))
    assert len(per_key) == 30 + 10
    assert {row["n"] for row in per_key} == {1}
    assert not Earning.objects.filter(payout__isnull=True).exists()  # nothing available left behind
    assert ledger_check() == []


def test_details_changed_while_a_run_builds_the_payout_wait_for_it_and_then_hold_it(payouts, monkeypatch):
    """The run locks the chunk's payout accounts, so the change waits for the payout
    built on the old details and then cancels it: it is never sent to the bank."""
    import threading

    from marketplace.tests.races import race
    from payouts import services

    config = PayoutCycleSettings.load()
    today = config.today()
    day = max(schedule_for(config).payout_dates_between(first=today - timedelta(days=40), last=today))
    seller = payouts.seller()
    seller.set_password("s3cret-enough")
    seller.save()
    payouts.complete(at=datetime.combine(day - timedelta(days=10), datetime.min.time(), UTC), seller=seller)

    building, go = threading.Event(), threading.Event()
    take_lines = services._take_lines

    def take_lines_slowly(**kwargs):
        building.set()
        assert go.wait(timeout=30)
        return take_lines(**kwargs)

    monkeypatch.setattr(services, "_take_lines", take_lines_slowly)

    def run():
        return services.payout_run_create(payout_date=day)

    # The change waits for the run's lock on the payout account.
    change, release = _details_change_against(seller, started=building, go=go)
    report, account, waited = race(run, change, release)
    assert not isinstance(report, Exception) and not isinstance(account, Exception), (report, account)
    assert waited is True and report.payouts == 1
    [payout] = Payout.objects.filter(seller=seller)
    assert payout.status == Payout.Status.CANCELED
    assert account.cooling_off_through is not None
    assert ledger_check() == []


def test_details_changed_while_the_stripe_send_takes_the_payout_leave_the_sent_payout_alone(
    payouts, monkeypatch
):
    """The seller's change of details and the Stripe send of their payout at the same
    moment: the change finds the payout sent (no longer scheduled) and goes through,
    rather than failing with a message meant for staff."""
    import threading

    from accounts.tests.factories import SellerFactory
    from marketplace.tests.races import race
    from payouts import services
    from payouts.models import PayoutAccount

    payouts.configure(provider="either")
    config = PayoutCycleSettings.load()
    today = config.today()
    day = max(schedule_for(config).payout_dates_between(first=today - timedelta(days=40), last=today))
    seller = SellerFactory()
    seller.set_password("s3cret-enough")
    seller.save()
    PayoutAccount.objects.create(
        seller=seller, provider="stripe_connect", stripe_account_id="acct_race", stripe_payouts_enabled=True
    )
    payouts.complete(at=datetime.combine(day - timedelta(days=10), datetime.min.time(), UTC), seller=seller)
    monkeypatch.setattr(services, "_submit_later", lambda payout_date: None)  # sent by the race below
    payouts.run(day)
    [payout] = Payout.objects.filter(seller=seller)

    sending, go = threading.Event(), threading.Event()
    transition = services._transition

    def transition_then_wait(payout, name, **kwargs):
        transition(payout, name, **kwargs)
        if name == "submit":  # inside the send's transaction, before it commits
            sending.set()
            assert go.wait(timeout=30)

    monkeypatch.setattr(services, "_transition", transition_then_wait)
    monkeypatch.setattr(services.connect, "transfer_create", lambda **kwargs: {"id": "tr_race"})

    def send():
        return services.payout_submit_to_stripe(payout_id=payout.pk)

    change, release = _details_change_against(seller, started=sending, go=go)  # waits for the send
    sent, account, waited = race(send, change, release)
    assert not isinstance(sent, Exception) and not isinstance(account, Exception), (sent, account)
    assert waited is True
    assert account.provider == "manual" and account.cooling_off_through is not None
    payout = Payout.objects.get(pk=payout.pk)
    assert (payout.status, payout.provider_reference) == (Payout.Status.PAID, "tr_race")
    assert ledger_check() == []


def test_two_postings_creating_the_same_new_accounts_in_other_orders_do_not_deadlock():
    """Callers hand the accounts over in a set's order, which differs between processes;
    they are created in one order (by key), so two chunks creating the USD and EUR
    platform accounts at once wait for each other instead of deadlocking. A trigger
    slows each row's insert so that the two statements overlap every time."""
    from django.db import transaction

    from marketplace.tests.races import race
    from payouts.ledger import K, accounts_get
    from payouts.models import LedgerAccount

    usd, eur = (K.PAYOUTS_IN_TRANSIT, "USD", None), (K.PAYOUTS_IN_TRANSIT, "EUR", None)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION test_slow_insert() RETURNS trigger AS $$
            BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_slow_insert BEFORE INSERT ON payouts_ledgeraccount
                FOR EACH ROW EXECUTE FUNCTION test_slow_insert();
            """
        )

    def create(specs):
        with transaction.atomic():
            return sorted(accounts_get(specs))

    try:
        results = race(lambda: create([usd, eur]), lambda: create([eur, usd]))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER test_slow_insert ON payouts_ledgeraccount; DROP FUNCTION test_slow_insert();"
            )
    keys = ["payouts_in_transit:EUR", "payouts_in_transit:USD"]
    assert results == [keys, keys]  # neither was chosen as a deadlock victim
    assert sorted(LedgerAccount.objects.values_list("key", flat=True)) == keys


def _backends_waiting_for_me() -> int:
    """Backends waiting for a lock this connection's transaction holds (pg_locks is live,
    unlike pg_stat_activity's snapshot inside a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        )
        return cursor.fetchone()[0]


def test_a_run_closed_while_a_planner_waits_for_it_gets_no_chunk_nobody_would_build(payouts, monkeypatch):
    """The planner reads the run as running, then waits for its row lock while the last
    chunk's builder closes it; once it has the lock it sees the run closed and adds no
    chunk (for a seller who signed up meanwhile) that would stay pending for ever."""
    import threading
    import time

    from marketplace.tests.races import race
    from payouts import services
    from payouts.models import PayoutRun, PayoutRunChunk

    config = PayoutCycleSettings.load()
    today = config.today()
    day = max(schedule_for(config).payout_dates_between(first=today - timedelta(days=40), last=today))
    payouts.complete(at=datetime.combine(day - timedelta(days=10), datetime.min.time(), UTC))
    run = services.payout_run_plan(payout_date=day)
    [chunk] = run.chunks.all()
    payouts.seller()  # signs up after the run was planned

    closing = threading.Event()
    submit_later = services._submit_later

    def submit_later_once_the_planner_waits(payout_date):
        closing.set()  # the run's row is locked and marked done, not yet committed
        deadline = time.monotonic() + 30
        while not _backends_waiting_for_me():
            assert time.monotonic() < deadline, "the planner never waited for the run's lock"
            time.sleep(0.01)  # waiting on the other thread, not on the clock under test
        submit_later(payout_date)

    monkeypatch.setattr(services, "_submit_later", submit_later_once_the_planner_waits)

    def plan():
        assert closing.wait(timeout=30)
        return services.payout_run_plan(payout_date=day)

    built, planned = race(lambda: services.payout_run_chunk_build(chunk_id=chunk.pk), plan)
    assert built is True and isinstance(planned, PayoutRun), (built, planned)
    run.refresh_from_db()
    assert run.status == PayoutRun.Status.DONE
    assert not PayoutRunChunk.objects.filter(run=run, done_at__isnull=True).exists()


def test_two_chunks_posting_their_journals_at_the_same_moment_both_commit(payouts, monkeypatch):
    """Every chunk moves the platform's shared in-transit balance: two chunks that reach
    the ledger together take turns (neither holds a share lock on it while waiting for
    the other's update lock), and neither fails with a deadlock."""
    import threading

    from marketplace.tests.races import race
    from payouts import ledger, services
    from payouts.models import PayoutRun

    config = PayoutCycleSettings.load()
    today = config.today()
    day = max(schedule_for(config).payout_dates_between(first=today - timedelta(days=40), last=today))
    at = datetime.combine(day - timedelta(days=10), datetime.min.time(), UTC)
    sellers = [payouts.seller() for _ in range(2)]
    # The platform's accounts exist already, as on any day after the first.
    payouts.complete(at=at - timedelta(days=30), seller=sellers[0])
    services.payout_run_create(payout_date=day - timedelta(days=1))
    for seller in sellers:
        payouts.complete(at=at, seller=seller)
    run = services.payout_run_plan(payout_date=day, chunk_size=1)
    chunks = list(run.chunks.filter(last_seller_id__in=[s.pk for s in sellers]).values_list("pk", flat=True))
    assert len(chunks) == 2

    both_posting = threading.Barrier(2, timeout=10)
    apply_to_balances = ledger._apply_to_balances

    def apply_together(deltas):
        both_posting.wait()  # both chunks' journals and entries are written
        return apply_to_balances(deltas)

    monkeypatch.setattr(ledger, "_apply_to_balances", apply_together)
    built = race(*[lambda chunk=chunk: services.payout_run_chunk_build(chunk_id=chunk) for chunk in chunks])
    assert built == [True, True], built
    assert Payout.objects.filter(payout_date=day, seller__in=sellers).count() == 2
    monkeypatch.setattr(ledger, "_apply_to_balances", apply_to_balances)
    services.payout_run_create(payout_date=day)
    assert PayoutRun.objects.get(payout_date=day).status == PayoutRun.Status.DONE
    assert ledger_check() == []
