"""The ops commands of DESIGN.md section 5: run_payouts, payout_preview, check_ledger."""

import json
from datetime import date
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from payouts.models import LedgerAccount, Payout, PayoutRun

from .conftest import utc

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_payout_preview_json_gives_the_seed_example(payouts):
    answer = json.loads(run("payout_preview", "--completed-at", "2027-01-05T10:00:00Z", "--json"))
    assert (answer["available_on"], answer["payout_on"]) == ("2027-01-12", "2027-01-15")


def test_payout_preview_reads_a_naive_timestamp_in_the_platform_timezone(payouts):
    payouts.configure(timezone="Asia/Tokyo")
    # 23:30 on Jan 5 in Tokyo is still Jan 5 there, although it is 14:30 UTC.
    answer = json.loads(run("payout_preview", "--completed-at", "2027-01-05T23:30:00", "--json"))
    assert answer["available_on"] == "2027-01-12"
    answer = json.loads(run("payout_preview", "--completed-at", "2027-01-05T23:30:00+00:00", "--json"))
    assert answer["available_on"] == "2027-01-13"


def test_payout_preview_refuses_a_bad_timestamp(payouts):
    with pytest.raises(CommandError, match="is not an ISO 8601 timestamp"):
        run("payout_preview", "--completed-at", "January 5th")


def test_run_payouts_prints_a_summary_and_a_second_run_builds_nothing(payouts):
    for amount in (10_000, 20_000):
        payouts.complete(at=utc(2027, 1, 5, 10), amount=amount)
    with time_machine.travel(utc(2027, 1, 20, 12)):
        out = run("run_payouts", "--date", "2027-01-15")
        lines = {
            k.strip(): v for k, v in (line.rsplit("   ", 1) for line in out.splitlines() if "   " in line)
        }
        assert lines["Payouts built"].strip() == "2"
        assert lines["Total USD"].strip() == "$270.00"
        again = run("run_payouts", "--date", "2027-01-15")
    assert "already done" in again
    assert Payout.objects.count() == 2


def test_run_payouts_dry_run_changes_nothing(payouts):
    payouts.complete(at=utc(2027, 1, 5, 10))
    with time_machine.travel(utc(2027, 1, 20, 12)):
        out = run("run_payouts", "--date", "2027-01-15", "--dry-run")
    assert "Dry run for 2027-01-15" in out and "$90.00" in out
    assert Payout.objects.count() == 0


def test_a_dry_run_for_a_future_payout_date_previews_what_that_date_would_pay(payouts):
    payouts.complete(at=utc(2027, 1, 5, 10))  # available on Jan 12, paid on Jan 15
    with time_machine.travel(utc(2027, 1, 10, 12)):
        out = run("run_payouts", "--date", "2027-01-15", "--dry-run")
        earlier = run("run_payouts", "--date", "2027-01-01", "--dry-run")
    assert "Dry run for 2027-01-15" in out and "$90.00" in out
    assert "2027-01-15 is 5 days away: what its run would pay as things stand today" in out
    assert "Dry run for 2027-01-01" in earlier and "$90.00" not in earlier  # not available by then
    assert Payout.objects.count() == 0 and not PayoutRun.objects.exists()


def test_a_dry_run_ahead_leaves_out_what_the_payout_dates_before_it_pay(payouts):
    payouts.complete(at=utc(2027, 1, 5, 10), amount=10_000)  # $90.00, paid on Jan 15
    payouts.complete(at=utc(2027, 1, 9, 10), amount=20_000)  # $180.00, available Jan 16, paid Feb 1
    with time_machine.travel(utc(2027, 1, 10, 12)):
        out = run("run_payouts", "--date", "2027-02-01", "--dry-run")
    assert "after the payout dates before it (2027-01-15) have paid what they would" in out
    assert "$180.00" in out and "$270.00" not in out
    assert Payout.objects.count() == 0 and not PayoutRun.objects.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--date", "2027-02-15"], "is in the future .* use --dry-run to preview it"),
        (["--date", "2027-02-04", "--dry-run"], "is not a payout date"),
        (["--date", "2027-02-30", "--dry-run"], "is not a date"),
    ],
)
def test_a_future_date_is_still_refused_for_a_real_run_and_a_bad_one_for_a_preview(payouts, args, message):
    payouts.complete(at=utc(2027, 1, 5, 10))
    with time_machine.travel(utc(2027, 1, 20, 12)), pytest.raises(CommandError, match=message):
        run("run_payouts", *args)
    assert Payout.objects.count() == 0 and not PayoutRun.objects.exists()


@pytest.mark.parametrize(
    "value, message",
    [
        ("2027-13-01", "is not a date"),
        ("yesterday", "is not a date"),
        ("2027-01-14", "is not a payout date"),
        ("2027-02-01", "is in the future"),
    ],
)
def test_run_payouts_refuses_a_bad_date_and_changes_nothing(payouts, value, message):
    payouts.complete(at=utc(2027, 1, 5, 10))
    with time_machine.travel(utc(2027, 1, 20, 12)), pytest.raises(CommandError, match=message):
        run("run_payouts", "--date", value)
    assert Payout.objects.count() == 0


@pytest.mark.parametrize("value", ["0001-01-01", "1900-01-01", "2025-12-01"])
def test_run_payouts_refuses_a_date_before_the_platform_existed_and_writes_no_run(payouts, value):
    with time_machine.travel(utc(2027, 1, 20, 12)), pytest.raises(CommandError) as refused:
        run("run_payouts", "--date", value)
    assert str(refused.value) == (
        f"{value} is before the platform's first payout date, 2026-01-01 (PAYOUTS_FIRST_DATE): nothing can be paid on it."
    )
    assert not PayoutRun.objects.exists()


def test_the_first_payout_date_is_a_setting(payouts, settings):
    settings.PAYOUTS_FIRST_DATE = date(2027, 1, 1)
    with time_machine.travel(utc(2027, 1, 20, 12)), pytest.raises(CommandError, match="2027-01-01"):
        run("run_payouts", "--date", "2026-12-15", "--dry-run")


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59", "2200-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00"]
)
def test_payout_preview_refuses_a_moment_no_order_can_complete_at(payouts, value):
    with time_machine.travel(utc(2027, 1, 20, 12)), pytest.raises(CommandError) as refused:
        run("payout_preview", "--completed-at", value)
    assert "is not a moment an order can complete: give one from 1900-01-01" in str(refused.value)


def test_payout_preview_answers_for_a_moment_before_the_first_payout_date(payouts):
    # A preview writes nothing: ops check the seed's example in any year.
    answer = json.loads(run("payout_preview", "--completed-at", "2025-01-05T10:00:00Z", "--json"))
    assert (answer["available_on"], answer["payout_on"]) == ("2025-01-12", "2025-01-15")


def test_check_ledger_exits_0_when_it_holds_and_1_when_it_does_not(payouts):
    order = payouts.complete(at=utc(2027, 1, 5, 10))
    assert "Ledger OK" in run("check_ledger")
    LedgerAccount.objects.filter(seller=order.seller).update(balance=5)
    with pytest.raises(SystemExit) as exit_info:
        run("check_ledger")
    assert exit_info.value.code == 1


def test_run_payouts_default_date_is_today_in_the_platform_timezone(payouts):
    payouts.configure(timezone="Asia/Tokyo", schedule="daily")
    payouts.complete(at=utc(2027, 1, 1, 10), amount=1_000)
    with time_machine.travel(utc(2027, 1, 15, 20)):  # already the 16th in Tokyo
        run("run_payouts")
    assert Payout.objects.get().payout_date == date(2027, 1, 16)


def test_run_payouts_without_a_date_on_a_day_without_payouts_does_nothing_and_says_so(payouts):
    payouts.complete(at=utc(2027, 1, 1, 10))
    with time_machine.travel(utc(2027, 1, 20, 12)):
        out = run("run_payouts")
    assert "not a payout date; the next one is 2027-02-01. Nothing to do." in out
    assert Payout.objects.count() == 0
