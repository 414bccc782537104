"""
Payout Cycle Settings: one record, edited in the admin under Finance Settings, and the
log of every change made to it (who, when, before and after).

Settings only: what the values mean for dates (the schedule, the preview) is worked out
in `payouts.schedule`, which reads these records. finance imports nothing from payouts.
"""

import zoneinfo

import holidays
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from .choices import WEEKDAY_NAMES, ScheduleKind


def parse_days(text: str, *, low: int, high: int, what: str) -> list[int]:
    """'1, 15' -> [1, 15]; a ValidationError with a message for people otherwise."""
    parts = [part.strip() for part in str(text or "").replace(" ", ",").split(",") if part.strip()]
    if not parts:
        raise ValidationError(f"Choose at least one {what}.")
    days = set()
    for part in parts:
        if not part.isdigit() or not low <= int(part) <= high:
            raise ValidationError(f"“{part}” is not a {what}: use whole numbers from {low} to {high}.")
        days.add(int(part))
    return sorted(days)


class PayoutCycleSettings(models.Model):
    Schedule = ScheduleKind

    class Provider(models.TextChoices):
        MANUAL = "manual", "Manual (export a CSV for the bank, then mark each payout paid or failed)"
        STRIPE_CONNECT = "stripe_connect", "Stripe Connect (transfer to each seller's connected account)"

    delay_days = models.PositiveSmallIntegerField(
        "delay N (days)",
        default=7,
        validators=[MinValueValidator(0), MaxValueValidator(365)],
        help_text="T+N: money from an order becomes available N days after the day it completed (0 to 365).",
    )
    schedule = models.CharField(max_length=10, choices=Schedule.choices, default=Schedule.MONTHLY)
    weekdays = models.CharField(
        max_length=20,
        blank=True,
        default="",
        help_text="For a weekly schedule: the weekdays payouts go out.",
    )
    month_days = models.CharField(
        max_length=100,
        blank=True,
        default="1, 15",
        help_text=(
            "For a monthly schedule: days of the month, e.g. 1, 15. Days 29, 30 and 31 mean the "
            "last day of a shorter month."
        ),
    )
    timezone = models.CharField(
        "platform timezone",
        max_length=64,
        default="UTC",
        help_text="Completion dates and payout dates are days in this timezone, e.g. Europe/Berlin.",
    )
    roll_to_business_day = models.BooleanField(
        default=False,
        help_text="Move a payout date that falls on a weekend or public holiday to the next business day.",
    )
    holiday_country = models.CharField(
        max_length=10,
        blank=True,
        default="",
        help_text="Whose public holidays count (from the maintained holidays library). Empty: weekends only.",
    )
    minimum_payout_amount = models.BigIntegerField(
        default=0,
        validators=[MinValueValidator(0)],
        help_text=(
            "In each currency's minor unit (cents). A smaller balance is not paid; it carries "
            "forward to the next payout date. 0 pays any positive balance."
        ),
    )
    platform_fee_bps = models.PositiveIntegerField(
        "platform fee (basis points)",
        default=1000,
        validators=[MaxValueValidator(10_000)],
        help_text="Taken from each completed order: 1000 = 10%. Fees round half up to the minor unit.",
    )
    payouts_paused = models.BooleanField(
        "pause all payouts",
        default=False,
        help_text="While paused no payout is built; balances wait and go out on the first date after.",
    )
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.MANUAL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Payout Cycle Settings"
        verbose_name_plural = "Payout Cycle Settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="payout_cycle_settings_single_row"),
            models.CheckConstraint(
                condition=models.Q(delay_days__gte=0, delay_days__lte=365), name="payout_delay_0_to_365"
            ),
            models.CheckConstraint(
                condition=models.Q(platform_fee_bps__lte=10_000), name="payout_fee_at_most_100_percent"
            ),
            models.CheckConstraint(
                condition=models.Q(minimum_payout_amount__gte=0), name="payout_minimum_not_negative"
            ),
        ]

    def __str__(self):
        return "Payout Cycle Settings"

    @classmethod
    def load(cls) -> "PayoutCycleSettings":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    # --- validation --------------------------------------------------------------------

    def clean(self):
        errors = {}
        if self.schedule == self.Schedule.WEEKLY:
            try:
                self.weekdays = ",".join(
                    str(d) for d in parse_days(self.weekdays, low=0, high=6, what="weekday")
                )
            except ValidationError as exc:
                errors["weekdays"] = exc.messages
        if self.schedule == self.Schedule.MONTHLY:
            try:
                self.month_days = ", ".join(
                    str(d) for d in parse_days(self.month_days, low=1, high=31, what="day of the month")
                )
            except ValidationError as exc:
                errors["month_days"] = exc.messages
        if self.timezone not in zoneinfo.available_timezones():
            errors["timezone"] = [
                f"“{self.timezone}” is not a timezone. Use a name like Europe/Berlin or UTC."
            ]
        if self.holiday_country:
            self.holiday_country = self.holiday_country.strip().upper()
            if self.holiday_country not in holidays.list_supported_countries(include_aliases=False):
                errors["holiday_country"] = [
                    f"“{self.holiday_country}” is not a country the holidays library knows. "
                    "Use a two-letter code such as US, GB or DE."
                ]
        if errors:
            raise ValidationError(errors)

    # --- what the rest of the product reads ---------------------------------------------

    def weekday_numbers(self) -> tuple[int, ...]:
        """The stored weekdays, "0,3" -> (0, 3) (Monday is 0, as in date.weekday())."""
        return tuple(int(d) for d in self.weekdays.split(",") if d.strip().isdigit())

    def month_day_numbers(self) -> tuple[int, ...]:
        """The stored days of the month, "1, 15" -> (1, 15)."""
        return tuple(int(d) for d in self.month_days.replace(" ", "").split(",") if d.isdigit())

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def today(self, now=None):
        return (now or timezone.now()).astimezone(self.tz).date()

    def weekday_names(self) -> str:
        return ", ".join(WEEKDAY_NAMES[d] for d in self.weekday_numbers())

    def snapshot(self) -> dict:
        """Every admin-editable value, as the change log stores it."""
        return {
            field.name: getattr(self, field.name)
            for field in self._meta.concrete_fields
            if field.name not in ("id", "updated_at")
        }


class PayoutSettingsChange(models.Model):
    """One saved change to the Payout Cycle Settings. Never edited."""

    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    before = models.JSONField()
    after = models.JSONField()

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = "payout settings change"

    def __str__(self):
        return f"Change of {self.changed_at:%Y-%m-%d %H:%M}"

    def changes(self) -> list[tuple[str, object, object]]:
        return [
            (name, self.before.get(name), value)
            for name, value in self.after.items()
            if self.before.get(name) != value
        ]
