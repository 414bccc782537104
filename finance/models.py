"""
Payout Cycle Settings: one record, edited in the admin under Finance Settings, and the
log of every change made to it (who, when, before and after).

Settings only: what the values mean for dates (the schedule, the preview) is worked out
in `payouts.schedule`, which reads these records. finance imports nothing from payouts.
"""

import re
import zoneinfo
from decimal import Decimal

import holidays
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from marketplace.money import amount_plain, currency_clean, currency_exponent, currency_is_valid
from marketplace.platform_time import datetime_text

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


_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MOST_MINOR_UNITS = 2**63 - 1  # what a payout's amount (a bigint) can hold


def parse_currency_minimums(text: str) -> dict[str, int]:
    """'EUR 25.00, JPY 3000' -> {"EUR": 2500, "JPY": 3000}: each amount in the currency's
    own units, converted exactly (Decimal, never float) to its minor units. A
    ValidationError naming every bad entry otherwise."""
    entries = [e.strip() for e in re.split(r"[,;\n]", str(text or "")) if e.strip()]
    minimums: dict[str, int] = {}
    errors = []
    for entry in entries:
        parts = entry.split()
        if len(parts) != 2:
            errors.append(f"“{entry}”: write a currency code and an amount, such as EUR 25.00.")
            continue
        try:
            currency = currency_clean(parts[0])
        except ValueError as exc:
            errors.append(f"“{entry}”: {exc}")
            continue
        exponent = currency_exponent(currency)
        text_amount = parts[1]
        if text_amount.startswith("-"):
            errors.append(f"“{entry}”: a minimum cannot be negative.")
            continue
        if not _AMOUNT.fullmatch(text_amount):
            errors.append(f"“{entry}”: “{text_amount}” is not an amount; write it like 25.00.")
            continue
        minor = Decimal(text_amount).scaleb(exponent)
        if minor != minor.to_integral_value():
            errors.append(
                f"“{entry}”: {currency} has no minor unit, so the amount must be whole."
                if exponent == 0
                else f"“{entry}”: {currency} has {exponent} decimal places; {text_amount} has more."
            )
            continue
        if minor > _MOST_MINOR_UNITS:
            errors.append(f"“{entry}”: the amount is too large.")
            continue
        if currency in minimums:
            errors.append(f"“{entry}”: {currency} is given twice.")
            continue
        minimums[currency] = int(minor)
    if errors:
        raise ValidationError(errors)
    return dict(sorted(minimums.items()))


def format_currency_minimums(minimums: dict) -> str:
    """{"EUR": 2500, "JPY": 3000} -> 'EUR 25.00, JPY 3000', as the admin types it."""
    return ", ".join(
        f"{currency} {amount_plain(amount, currency)}" for currency, amount in sorted(minimums.items())
    )


class PayoutCycleSettings(models.Model):
    Schedule = ScheduleKind

    class Provider(models.TextChoices):
        """How one payout is sent (a payout's and a seller's payout account's provider)."""

        MANUAL = "manual", "Manual (export a CSV for the bank, then mark each payout paid or failed)"
        STRIPE_CONNECT = "stripe_connect", "Stripe Connect (transfer to each seller's connected account)"

    class ProvidersOffered(models.TextChoices):
        """What sellers may choose on their payout settings page."""

        MANUAL = "manual", "Bank transfer only (sellers enter their bank details; export a CSV for the bank)"
        STRIPE_CONNECT = "stripe_connect", "Stripe Connect only (sellers onboard with Stripe)"
        EITHER = "either", "Either: each seller chooses bank transfer or Stripe Connect"

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
        "minimum payout, any other currency",
        default=0,
        validators=[MinValueValidator(0)],
        help_text=(
            "For a currency not listed below, in its minor unit (cents). A smaller balance is not "
            "paid; it carries forward to the next payout date. 0 pays any positive balance."
        ),
    )
    # {"EUR": 2500, "JPY": 3000}: minor units per ISO 4217 code, the form's text parsed
    # exactly. A JSON value so the settings change log records it like any other field.
    minimum_payout_by_currency = models.JSONField(
        "minimum payout per currency",
        default=dict,
        blank=True,
        help_text=(
            "Overrides, in each currency's own units, e.g. EUR 25.00, JPY 3000, GBP 20.00. "
            "A balance under its currency's minimum carries forward."
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
    provider = models.CharField(
        "how sellers may be paid",
        max_length=20,
        choices=ProvidersOffered.choices,
        default=ProvidersOffered.MANUAL,
        help_text=(
            "A seller whose chosen way is no longer offered is not paid (the balance waits) "
            "until they choose one that is."
        ),
    )
    cooling_off_days = models.PositiveSmallIntegerField(
        "cooling-off after bank details change (days)",
        default=3,
        validators=[MinValueValidator(0), MaxValueValidator(60)],
        help_text=(
            "When a seller changes where their money goes, payouts wait this many days after the "
            "day of the change (0 to 60), and the seller is emailed: time to notice a change they "
            "did not make."
        ),
    )
    dispute_fee_charged_to_seller = models.BooleanField(
        "charge lost disputes' fee to the seller",
        default=False,
        help_text=(
            "When a dispute is lost, Stripe keeps its dispute fee. Ticked: the seller's balance "
            "pays it; not ticked: the platform bears it."
        ),
    )
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
            models.CheckConstraint(
                condition=models.Q(cooling_off_days__lte=60), name="payout_cooling_off_at_most_60_days"
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
        minimums = self.minimum_payout_by_currency
        if not isinstance(minimums, dict) or not all(
            currency_is_valid(currency) and type(amount) is int and 0 <= amount <= _MOST_MINOR_UNITS
            for currency, amount in minimums.items()
        ):
            errors["minimum_payout_by_currency"] = [
                "Give each minimum as an ISO 4217 code and a whole number of minor units, zero or more."
            ]
        else:
            self.minimum_payout_by_currency = dict(sorted(minimums.items()))
        if errors:
            raise ValidationError(errors)

    # --- what the rest of the product reads ---------------------------------------------

    def weekday_numbers(self) -> tuple[int, ...]:
        """The stored weekdays, "0,3" -> (0, 3) (Monday is 0, as in date.weekday())."""
        return tuple(int(d) for d in self.weekdays.split(",") if d.strip().isdigit())

    def month_day_numbers(self) -> tuple[int, ...]:
        """The stored days of the month, "1, 15" -> (1, 15)."""
        return tuple(int(d) for d in self.month_days.replace(" ", "").split(",") if d.isdigit())

    def providers_offered(self) -> list[str]:
        """The payout providers sellers may use now (Provider values)."""
        if self.provider == self.ProvidersOffered.EITHER:
            return [self.Provider.MANUAL, self.Provider.STRIPE_CONNECT]
        return [self.provider]

    def minimum_payout_for(self, currency: str) -> int:
        """The minimum payout in `currency`'s minor units: its override, else the default."""
        return self.minimum_payout_by_currency.get(currency, self.minimum_payout_amount)

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
        return f"Change of {datetime_text(self.changed_at)}"

    def changes(self) -> list[tuple[str, object, object]]:
        return [
            (name, self.before.get(name), value)
            for name, value in self.after.items()
            if self.before.get(name) != value
        ]

    def summary(self) -> str:
        """The changes for people, by the form's labels: "Delay N (days): 7 → 10; Weekdays:
        none → Friday; Minimum payout per currency: none → EUR 25.00, JPY 3000" (minimums in
        each currency's units, not raw minor units)."""
        return "; ".join(
            f"{_label(name)}: {_readable(name, before)} → {_readable(name, after)}"
            for name, before, after in self.changes()
        )


def _label(name: str) -> str:
    try:
        label = str(PayoutCycleSettings._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        label = name.replace("_", " ")
    return label[:1].upper() + label[1:]


def _readable(name: str, value) -> str:
    if value in (None, "", {}, []):
        return "none"
    if name == "minimum_payout_by_currency" and isinstance(value, dict):
        return format_currency_minimums(value) or "none"
    if name == "minimum_payout_amount" and type(value) is int:
        return f"{value:,} minor units"
    if name == "weekdays":
        days = [int(d) for d in str(value).split(",") if d.strip().isdigit() and int(d) < 7]
        return ", ".join(WEEKDAY_NAMES[d] for d in days) or "none"
    if name == "platform_fee_bps" and type(value) is int:
        return f"{value // 100}.{value % 100:02d}%"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        field = PayoutCycleSettings._meta.get_field(name)
    except FieldDoesNotExist:
        return str(value)
    if field.choices:
        return str(dict(field.choices).get(value, value))
    return str(value)


def platform_timezone_read() -> zoneinfo.ZoneInfo:
    """The platform timezone, read without writing (every page asks): the settings' value,
    or the field's default before anyone saved them."""
    name = PayoutCycleSettings.objects.filter(pk=1).values_list("timezone", flat=True).first()
    return zoneinfo.ZoneInfo(name or PayoutCycleSettings._meta.get_field("timezone").default)
