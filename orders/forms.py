from django import forms

from marketplace.money import amount_parse, format_money

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
    """A refund of what is left of the order, or of part of it: the amount is typed in the
    order's currency, as the seller reads it (12.50), and checked against what can still
    be refunded before anything is sent to Stripe."""

    amount = forms.CharField(max_length=30, required=False)
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The buyer sees this in the refund email.",
    )
    confirm = forms.BooleanField(
        label="I understand the buyer gets this amount back and this cannot be undone.",
        error_messages={"required": "Tick the box to confirm the refund."},
    )

    def __init__(self, *args, order: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        left = format_money(order.refundable_amount, order.currency)
        self.fields["amount"].label = f"Amount to refund, in {order.currency}"
        # "$25.00 (USD)": a symbol several currencies share gets its code; "12.345 KWD" has it.
        self.currency_note = "" if left.endswith(order.currency) else f" ({order.currency})"
        self.fields["amount"].help_text = (
            f"{left}{self.currency_note} can still be refunded. Leave it empty to refund all of it, "
            "or type less for a partial refund."
        )
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def clean_amount(self) -> int:
        """The amount in minor units; empty means everything that is left."""
        text = self.cleaned_data.get("amount", "").strip()
        left = self.order.refundable_amount
        if not text:
            return left
        try:
            amount = amount_parse(text, self.order.currency)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        if amount > left:
            raise forms.ValidationError(
                f"At most {format_money(left, self.order.currency)} can still be refunded; "
                f"{format_money(amount, self.order.currency)} is more than that."
            )
        return amount


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
