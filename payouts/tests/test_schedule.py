"""When money becomes available and when it is paid: the source document's example and
the edges around it, as pure date arithmetic and through a completed order."""

from datetime import date

import pytest

from payouts.schedule import DAILY, MONTHLY, WEEKLY, PayoutSchedule, available_on

from .conftest import utc

BIMONTHLY = PayoutSchedule(kind=MONTHLY, month_days=(1, 15))


def test_the_source_documents_example_completed_jan_5_t_plus_7_is_available_jan_12_and_paid_jan_15():
    avail = available_on(completed_at=utc(2027, 1, 5, 10, 0), timezone_name="UTC", delay_days=7)
    assert avail == date(2027, 1, 12)
    assert BIMONTHLY.next_payout_date(avail) == date(2027, 1, 15)


@pytest.mark.parametrize(
    "available, paid",
    [
        (date(2027, 1, 15), date(2027, 1, 15)),  # available exactly on a payout day: paid that day
        (date(2027, 1, 16), date(2027, 2, 1)),  # a day late: waits for the 1st
        (date(2027, 1, 31), date(2027, 2, 1)),  # month end
        (date(2027, 12, 27), date(2028, 1, 1)),  # year end
        (date(2028, 2, 29), date(2028, 3, 1)),  # leap day
    ],
)
def test_payout_on_is_the_first_payout_date_on_or_after_available_on(available, paid):
    assert BIMONTHLY.next_payout_date(available) == paid


@pytest.mark.parametrize(
    "month_days, day_in_short_month",
    [
        ((31,), date(2027, 2, 28)),
        ((30,), date(2027, 2, 28)),
        ((29,), date(2027, 2, 28)),
        ((29,), date(2028, 2, 29)),  # a leap year has the 29th itself
        ((31,), date(2027, 4, 30)),
    ],
)
def test_days_29_to_31_fall_on_the_last_day_of_a_shorter_month(month_days, day_in_short_month):
    schedule = PayoutSchedule(kind=MONTHLY, month_days=month_days)
    first_of_month = day_in_short_month.replace(day=1)
    assert schedule.next_payout_date(first_of_month) == day_in_short_month


def test_days_29_and_31_in_february_make_one_payout_not_two():
    schedule = PayoutSchedule(kind=MONTHLY, month_days=(29, 31))
    assert schedule.payout_dates_between(first=date(2027, 2, 1), last=date(2027, 3, 1)) == [date(2027, 2, 28)]


def test_n_zero_makes_money_available_the_day_the_order_completed():
    assert available_on(completed_at=utc(2027, 1, 15, 9), timezone_name="UTC", delay_days=0) == date(
        2027, 1, 15
    )


def test_a_completion_at_23_30_utc_counts_on_the_next_day_for_a_platform_east_of_utc():
    # 23:30 UTC on Jan 5 is 08:30 on Jan 6 in Tokyo: the platform's day is the 6th.
    avail = available_on(completed_at=utc(2027, 1, 5, 23, 30), timezone_name="Asia/Tokyo", delay_days=7)
    assert avail == date(2027, 1, 13)
    assert available_on(completed_at=utc(2027, 1, 5, 23, 30), timezone_name="UTC", delay_days=7) == date(
        2027, 1, 12
    )


def test_a_payout_date_on_a_public_holiday_rolls_to_the_next_business_day():
    # 1 January 2027 is a Friday and New Year's Day in the US: the payout goes out Monday the 4th.
    schedule = PayoutSchedule(
        kind=MONTHLY, month_days=(1, 15), roll_to_business_day=True, holiday_country="US"
    )
    assert schedule.next_payout_date(date(2026, 12, 20)) == date(2027, 1, 4)
    assert not schedule.is_payout_date(date(2027, 1, 1))
    # Money available on Saturday the 2nd still makes the rolled payout of Monday the 4th.
    assert schedule.next_payout_date(date(2027, 1, 2)) == date(2027, 1, 4)


def test_a_weekend_payout_date_rolls_to_monday_without_a_holiday_country():
    schedule = PayoutSchedule(kind=MONTHLY, month_days=(15,), roll_to_business_day=True)
    assert schedule.next_payout_date(date(2027, 5, 1)) == date(2027, 5, 17)  # the 15th is a Saturday


def test_weekly_and_daily_schedules():
    weekly = PayoutSchedule(kind=WEEKLY, weekdays=(0, 3))  # Monday and Thursday
    assert weekly.payout_dates(start=date(2027, 1, 12), count=3) == [
        date(2027, 1, 14),
        date(2027, 1, 18),
        date(2027, 1, 21),
    ]
    assert PayoutSchedule(kind=DAILY).next_payout_date(date(2027, 1, 12)) == date(2027, 1, 12)


def test_the_schedule_reads_like_a_sentence():
    assert BIMONTHLY.describe() == "on the 1st and 15th of each month"
    assert PayoutSchedule(kind=WEEKLY, weekdays=(3, 0)).describe() == "every Monday and Thursday"
    rolled = PayoutSchedule(kind=MONTHLY, month_days=(31,), roll_to_business_day=True, holiday_country="DE")
    assert (
        rolled.describe()
        == "on the 31st of each month, moved to the next business day on weekends and DE public holidays"
    )
