"""The Payout Cycle Settings form: weekdays as checkboxes, every other field as the model
validates it. Saving goes through `finance.services.payout_settings_update`."""

from django import forms

from .choices import WEEKDAY_NAMES
from .models import PayoutCycleSettings


class PayoutCycleSettingsForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="For a weekly schedule: the weekdays payouts go out.",
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
            "platform_fee_bps",
            "payouts_paused",
            "provider",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.weekdays and not self.is_bound:
            self.initial["weekdays"] = list(self.instance.weekday_numbers())

    def clean_weekdays(self):
        return ",".join(str(d) for d in sorted(set(self.cleaned_data["weekdays"])))
