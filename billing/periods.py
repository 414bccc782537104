"""
Subscription periods, always counted from the start (DESIGN.md 3.2):
period k starts at `started_at + k·interval`. Months and years are added to the start
date, not to the previous period, and a day the month does not have is clamped to its
last day: a subscription started on 31 January renews on 28 (or 29) February, then
31 March, 30 April and so on; one started on 29 February renews on 28 February in
ordinary years.
"""

import calendar
from datetime import datetime, timedelta


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_start(started_at: datetime, unit: str, count: int, k: int) -> datetime:
    """The start of period `k` (0 is the first) of a plan billed every `count` `unit`s."""
    steps = count * k
    if unit == "day":
        return started_at + timedelta(days=steps)
    if unit == "week":
        return started_at + timedelta(weeks=steps)
    if unit == "month":
        return add_months(started_at, steps)
    if unit == "year":
        return add_months(started_at, 12 * steps)
    raise ValueError(f"Unknown interval unit {unit!r}")
