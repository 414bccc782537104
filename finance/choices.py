"""
The vocabulary the Payout Cycle Settings store: schedule kinds and weekday names.

Plain values with no database, so `payouts.schedule` (pure date arithmetic) can import
them without loading any model. finance imports nothing from payouts; payouts reads
these values and decides what they mean for dates.
"""

from django.db import models


class ScheduleKind(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly, on chosen weekdays"
    MONTHLY = "monthly", "Monthly, on chosen days of the month"


# Index = Python's date.weekday(): the settings store weekdays as "0,3" (Monday, Thursday).
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
