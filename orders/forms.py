from django import forms

from .models import Order
from .services import MESSAGE_MAX_LENGTH


class ExpectedStatusForm(forms.Form):
    """Every action form carries the status the person saw, so that acting on a page that
    has gone stale is refused with the order's current state instead of surprising them."""

    expected_status = forms.ChoiceField(choices=Order.Status.choices, widget=forms.HiddenInput)


class MarkShippedForm(ExpectedStatusForm):
    carrier = forms.CharField(max_length=100, required=False, label="Carrier (optional)")
    tracking_number = forms.CharField(max_length=100, required=False, label="Tracking number (optional)")


class RefundForm(ExpectedStatusForm):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The buyer sees this in the refund email.",
    )
    confirm = forms.BooleanField(
        label="I understand the buyer gets the full amount back and this cannot be undone.",
        error_messages={"required": "Tick the box to confirm the refund."},
    )


class BuyerMessageForm(forms.Form):
    message = forms.CharField(
        max_length=MESSAGE_MAX_LENGTH,
        required=False,
        label="Message to the seller (optional)",
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "e.g. The tracking says delivered but nothing came."}
        ),
    )


class NotReceivedForm(ExpectedStatusForm, BuyerMessageForm):
    pass
