"""One processing loop at a time on PostgreSQL: a session advisory lock, held by a
connection of its own for the whole run (forked children included), and released by
PostgreSQL when the process holding it dies. The loops under test are real
`manage.py process_transactions` processes charging through benchmarks/fake_stripe.py,
a gateway that takes 300 ms per charge, so a test can act in the middle of a backlog."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pglock
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from billing import services
from billing.models import Attempt, Invoice
from billing.services import charging
from billing.single_runner import advisory_lock_key
from billing.tests.test_concurrency import _backlog

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
BUSY = "Another process_transactions is running; nothing done."
BACKLOG = 8


@pytest.fixture
def slow_gateway():
    """benchmarks/fake_stripe.py on a free loopback port: every PaymentIntent takes
    300 ms, a repeated Idempotency-Key gets the original PaymentIntent back."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "fake_stripe.py"),
            "--port",
            str(port),
            "--latency-ms",
            "300",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_for(lambda: _reachable(f"{url}/_stats"), what="the fake gateway to start")
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def backlog(stripe_server, monkeypatch):
    """BACKLOG due charges, one per invoice, with customers and cards made at the suite's
    localstripe (the slow gateway charges any card it is given)."""
    monkeypatch.setattr(charging, "attempt_soon", lambda txn_id: None)  # left to the loop
    return _backlog(stripe_server, BACKLOG)


def test_a_second_connection_holding_the_lock_makes_the_loop_busy(backlog):
    other = connection.copy()
    lock_id = pglock.advisory(advisory_lock_key("process_transactions")).int_lock_id
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [lock_id])
        assert services.transactions_process_due().skipped_busy is True
        out = StringIO()
        call_command("process_transactions", stdout=out)
        assert out.getvalue().strip() == BUSY
        assert not Attempt.objects.exists()

        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
        report = services.transactions_process_due()
    finally:
        other.close()

    assert report.skipped_busy is False and report.results == {"done": BACKLOG}
    assert set(Invoice.objects.values_list("status", flat=True)) == {"settled"}


def test_a_second_run_is_refused_while_the_first_forks_its_backlog(backlog, slow_gateway):
    # The loop closes every connection before it forks; the lock's must stay open.
    first = _start_loop(slow_gateway, BILLING_PROCESSES="2")
    _wait_for(lambda: Attempt.objects.count() >= 2, what="the forked children to charge", process=first)

    second = services.transactions_process_due()
    attempts_meanwhile = Attempt.objects.count()
    out, _ = first.communicate(timeout=60)

    assert second.skipped_busy is True
    assert attempts_meanwhile < BACKLOG, "the first run had finished; nothing was tested"
    assert first.returncode == 0 and "done       8" in out.decode()
    assert set(Invoice.objects.values_list("status", flat=True)) == {"settled"}
    assert services.transactions_process_due().skipped_busy is False  # and it is released at the end
    assert _stats(slow_gateway)["double_charged"] == 0


def test_a_killed_run_lets_the_next_one_charge_at_once_and_nobody_twice(backlog, slow_gateway, settings):
    first = _start_loop(slow_gateway, BILLING_PROCESSES="1")
    _wait_for(lambda: Attempt.objects.count() >= 3, what="the first run to charge", process=first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    charged_by_the_first = Attempt.objects.filter(outcome="succeeded").count()
    stranded = list(Attempt.objects.filter(outcome="unknown"))  # sent, or about to be, when it died
    assert charged_by_the_first + len(stranded) < BACKLOG, "the first run had finished; nothing was tested"

    settings.STRIPE_API_BASE = slow_gateway
    second = services.transactions_process_due()  # right away: not 600 s later

    assert second.skipped_busy is False
    assert second.results.get("done") == BACKLOG - charged_by_the_first - len(stranded)
    # A stranded attempt is left alone while it may still be in flight elsewhere; after
    # that it is sent again with the same key, and Stripe answers with the first result.
    later = services.transactions_process_due(
        now=timezone.now() + charging.IN_FLIGHT_GRACE + timedelta(seconds=1)
    )
    assert later.results.get("done", 0) == len(stranded)
    for attempt in stranded:
        attempt.refresh_from_db()
        assert attempt.outcome == "succeeded"

    assert set(Invoice.objects.values_list("status", flat=True)) == {"settled"}
    for invoice in Invoice.objects.all():
        attempts = Attempt.objects.filter(transaction__invoice=invoice)
        assert attempts.filter(outcome="succeeded").count() == 1
        assert len(set(attempts.values_list("stripe_id", flat=True))) == 1  # one PaymentIntent
    stats = _stats(slow_gateway)
    assert stats["charged_invoices"] == BACKLOG and stats["double_charged"] == 0


def _start_loop(gateway_url, **env) -> subprocess.Popen:
    """`manage.py process_transactions` against this test's database and gateway."""
    db = connection.settings_dict
    credentials = urllib.parse.quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + urllib.parse.quote(db["PASSWORD"], safe="")
    database_url = f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return subprocess.Popen(
        [sys.executable, "manage.py", "process_transactions"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "marketplace.settings.test",
            "DATABASE_URL": database_url,
            "STRIPE_API_BASE": gateway_url,
            "STRIPE_IDEMPOTENCY_NAMESPACE": django_settings.STRIPE_IDEMPOTENCY_NAMESPACE,
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_for(condition, *, what, process=None, timeout=30):
    """Poll a real process's progress (there is no clock to control across processes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"gave up waiting for {what}: the process ended:\n{process.stdout.read().decode()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _reachable(url) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).read()
        return True
    except OSError:
        return False


def _stats(gateway_url) -> dict:
    return json.loads(urllib.request.urlopen(f"{gateway_url}/_stats", timeout=5).read())
