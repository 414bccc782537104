"""
When money becomes available and when it is paid (DESIGN.md section 3.3). Pure date
arithmetic, no database: the admin preview, `payout_preview`, the seller page and the
payout runs all ask these functions, so they can never disagree.

- `available_on` = the completion date in the platform timezone + N days.
- A payout date is a scheduled day (every day; chosen weekdays; or chosen days of the
  month, where 29, 30 and 31 mean the last day of a shorter month), moved to the next
  business day when that roll is on. Business days are Monday to Friday minus the public
  holidays of the chosen country, from the `holidays` library.
- `payout_on` = the first payout date on or after `available_on`.

The Payout Cycle Settings (finance) store the values; `schedule_for` turns them into a
`PayoutSchedule`. payouts imports finance, never the reverse.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import holidays

from finance.choices import WEEKDAY_NAMES, ScheduleKind

if TYPE_CHECKING:
    from finance.models import PayoutCycleSettings

# The kinds the settings store (WEEKDAY_NAMES too), under the names callers import from here.
DAILY, WEEKLY, MONTHLY = ScheduleKind.DAILY.value, ScheduleKind.WEEKLY.value, ScheduleKind.MONTHLY.value
# A roll never needs more than a couple of weeks (the longest holiday runs are a week);
# the scan gives up well after that so a schedule can never loop forever.
_LONGEST_ROLL = timedelta(days=21)
_SCAN_LIMIT = 800


def available_on(*, completed_at: datetime, timezone_name: str, delay_days: int) -> date:
    """The completion date in the platform timezone, plus N days."""
    return completed_at.astimezone(ZoneInfo(timezone_name)).date() + timedelta(days=delay_days)


@lru_cache(maxsize=32)
def _country_holidays(country: str):
    return holidays.country_holidays(country)


@dataclass(frozen=True)
class PayoutSchedule:
    kind: str = MONTHLY
    weekdays: tuple[int, ...] = ()
    month_days: tuple[int, ...] = (1, 15)
    roll_to_business_day: bool = False
    holiday_country: str = ""

    def is_scheduled(self, day: date) -> bool:
        """The nominal schedule, before any business-day roll."""
        if self.kind == DAILY:
            return True
        if self.kind == WEEKLY:
            return day.weekday() in self.weekdays
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day in self.month_days or (day.day == last and any(d > last for d in self.month_days))

    def is_business_day(self, day: date) -> bool:
        if day.weekday() >= 5:
            return False
        return not (self.holiday_country and day in _country_holidays(self.holiday_country))

    def rolled(self, day: date) -> date:
        if not self.roll_to_business_day:
            return day
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def next_payout_date(self, on_or_after: date) -> date:
        """The first payout date on or after the given day (rolls included)."""
        day = on_or_after - (_LONGEST_ROLL if self.roll_to_business_day else timedelta(0))
        for _ in range(_SCAN_LIMIT):
            if self.is_scheduled(day) and self.rolled(day) >= on_or_after:
                return self.rolled(day)
            day += timedelta(days=1)
        raise ValueError("This schedule has no payout date in the next two years.")

    def is_payout_date(self, day: date) -> bool:
        return self.next_payout_date(day) == day

    def payout_dates(self, *, start: date, count: int) -> list[date]:
        dates: list[date] = []
        day = start
        while len(dates) < count:
            day = self.next_payout_date(day)
            dates.append(day)
            day += timedelta(days=1)
        return dates

    def payout_dates_between(self, *, first: date, last: date) -> list[date]:
        """Every payout date in [first, last], in order (a run catching up uses this)."""
        dates = []
        day = first
        while day <= last:
            day = self.next_payout_date(day)
            if day > last:
                break
            dates.append(day)
            day += timedelta(days=1)
        return dates

    def describe(self) -> str:
        if self.kind == DAILY:
            text = "every day"
        elif self.kind == WEEKLY:
            names = [WEEKDAY_NAMES[d] for d in sorted(self.weekdays)]
            text = "every " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])
        else:
            days = [_ordinal(d) for d in sorted(self.month_days)]
            listed = days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]
            text = f"on the {listed} of each month"
        if self.roll_to_business_day:
            where = f" and {self.holiday_country} public holidays" if self.holiday_country else ""
            text += f", moved to the next business day on weekends{where}"
        return text


def schedule_for(config: "PayoutCycleSettings") -> PayoutSchedule:
    """The payout schedule the given Payout Cycle Settings describe (saved or not: the
    admin preview passes the unsaved form's instance)."""
    return PayoutSchedule(
        kind=config.schedule,
        weekdays=config.weekday_numbers(),
        month_days=config.month_day_numbers(),
        roll_to_business_day=config.roll_to_business_day,
        holiday_country=config.holiday_country,
    )


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"
