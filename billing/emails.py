"""
The emails billing sends to customers. Each says what happened, what happens next and
when, and, when the customer has something to do, gives the signed link to do it.
"""

from datetime import datetime

from marketplace.money import format_money
from marketplace.outbox import outbox_email
from marketplace.platform_time import date_text, platform_localtime

from .links import card_update_url
from .models import Invoice, Subscription
from .selectors import invoice_after_grace

TEMPLATE = "billing/email/notice"


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    moment = platform_localtime(datetime.fromisoformat(iso))
    return date_text(moment)


def _what(invoice: Invoice) -> str:
    amount = format_money(invoice.total_amount, invoice.currency)
    if invoice.order_id:
        return f"{amount} for order #{invoice.order_id}"
    if invoice.subscription_id:
        return f"{amount} for your {invoice.subscription.plan.name} subscription"
    lines = ", ".join(line.description for line in invoice.lines.all())
    return f"{amount} for invoice #{invoice.pk}" + (f" ({lines})" if lines else "")


def billing_email_send(
    *, kind: str, invoice_id=None, subscription_id=None, reason: str = "", **context
) -> bool:
    if kind == "subscription_canceled":
        sub = Subscription.objects.select_related("customer__user", "plan").get(pk=subscription_id)
        outbox_email(
            to=sub.customer.user.email,
            template_prefix=TEMPLATE,
            context={
                "subject": f"Your {sub.plan.name} subscription has been canceled",
                "lines": [
                    f"Your {sub.plan.name} subscription was canceled on {date_text(sub.canceled_at)}."
                    + (f" Reason: {reason}" if reason else ""),
                    "You will not be charged for it again. Nothing you already paid is affected.",
                ],
            },
        )
        return True

    invoice = Invoice.objects.select_related("customer__user", "subscription__plan", "payment_method").get(
        pk=invoice_id
    )
    if invoice.status in (Invoice.Status.SETTLED, Invoice.Status.CANCELED, Invoice.Status.REFUNDED):
        return False  # paid or closed since: the email would only confuse
    what = _what(invoice)
    card = str(invoice.payment_method) if invoice.payment_method else "your card"
    link = card_update_url(invoice)
    if kind == "payment_failed":
        left = context.get("retries_left")
        subject = f"We could not charge {card} – we will try again on {_when(context.get('next_attempt_at'))}"
        lines = [
            f"We tried to charge {what} to {card}, and the bank declined it: {reason}",
            f"We will try again automatically on {_when(context.get('next_attempt_at'))}"
            + (f" ({left} more tr{'y' if left == 1 else 'ies'} after that)." if left else "."),
            "If you would rather use another card, add it with the button below and we will charge it right away.",
        ]
        action = "Use another card"
    elif kind == "action_required" and context.get("authenticate"):
        subject = f"Confirm the payment of {what} with your bank"
        lines = [
            f"Your bank wants you to confirm the payment of {what} to {card} before it goes through.",
            "Open the page below and confirm it with your bank; it takes a minute. "
            "You can add another card there instead.",
        ]
        if context.get("grace_ends_at"):
            lines.append(
                f"If it is still unpaid on {_when(context['grace_ends_at'])}, {invoice_after_grace(invoice)}."
            )
        action = "Confirm the payment"
    elif kind == "action_required":
        subject = f"Action needed to pay {what}"
        lines = [reason or "We need a card to pay this invoice."]
        if invoice.payment_method:
            lines.insert(0, f"We could not charge {what} to {card}.")
        lines.append(
            "Add a card (or check the card details) with the button below and we will charge it right away."
        )
        if context.get("grace_ends_at"):
            lines.append(
                f"If it is still unpaid on {_when(context['grace_ends_at'])}, {invoice_after_grace(invoice)}."
            )
        action = "Add a card"
    elif kind == "final_notice":
        subject = f"Final notice: {what} is unpaid"
        lines = [
            f"We have tried to charge {what} to {card} several times, and the bank declined each time: {reason}",
            "We will not try that card again for this invoice.",
            f"If it is still unpaid on {_when(context.get('grace_ends_at'))}, {invoice_after_grace(invoice)}.",
            "Add a card with the button below and we will charge it right away.",
        ]
        if invoice.subscription_id:
            lines.append(f"Until you add another card, your next invoices will still be charged to {card}.")
        action = "Add a card"
    else:
        raise ValueError(f"Unknown billing email {kind!r}")
    outbox_email(
        to=invoice.customer.user.email,
        template_prefix=TEMPLATE,
        context={"subject": subject, "lines": lines, "action_url": link, "action_label": action},
    )
    return True
