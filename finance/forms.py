"""The Payout Cycle Settings form: weekdays as checkboxes, the per-currency minimums as
one line of text ("EUR 25.00, JPY 3000"), every other field as the model validates it.
Saving goes through `finance.services.payout_settings_update`."""

from django import forms

from .choices import WEEKDAY_NAMES
from .models import PayoutCycleSettings, format_currency_minimums, parse_currency_minimums


class CurrencyMinimumsField(forms.CharField):
    """Text in, {"EUR": 2500, "JPY": 3000} out; a message naming each bad entry."""

    def prepare_value(self, value):
        return format_currency_minimums(value) if isinstance(value, dict) else value

    def to_python(self, value):
        return parse_currency_minimums(super().to_python(value))


class PayoutCycleSettingsForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="For a weekly schedule: the weekdays payouts go out.",
    )
    minimum_payout_by_currency = CurrencyMinimumsField(
        label="Minimum payout per currency",
        required=False,
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "EUR 25.00, JPY 3000, GBP 20.00"}),
        help_text=(
            "Overrides of the minimum, each a currency code and an amount in that currency's "
            "units, separated by commas: EUR 25.00, JPY 3000, GBP 20.00. Other currencies use "
            "the minimum above."
        ),
    )

    class Meta:
        model = PayoutCycleSettings
        fields = [
            "delay_days",
            "schedule",
            "weekdays",
            "month_days",
            "timezone",
            "roll_to_business_day",
            "holiday_country",
            "minimum_payout_amount",
            "minimum_payout_by_currency",
            "platform_fee_bps",
            "payouts_paused",
            "dispute_fee_charged_to_seller",
            "provider",
            "cooling_off_days",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.weekdays and not self.is_bound:
            self.initial["weekdays"] = list(self.instance.weekday_numbers())

    def clean_weekdays(self):
        return ",".join(str(d) for d in sorted(set(self.cleaned_data["weekdays"])))
