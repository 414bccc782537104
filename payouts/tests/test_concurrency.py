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
from payouts.ledger import ledger_check
from payouts.models import Earning, Payout
from payouts.schedule import schedule_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def _run_payouts(day) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
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
