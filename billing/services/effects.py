"""Billing's side effects: emails, "charge this now", and withdrawing a payment left
waiting for the customer's bank at Stripe. Each is an outbox row written in the caller's
transaction (marketplace/outbox.py): sent after commit, never lost to a broker outage."""

from marketplace.outbox import outbox_task

from ..emails import billing_email_send
from ..models import Invoice
from ..selectors import invoice_attempt_awaiting_authentication


def email(kind: str, *, invoice_id: int | None = None, **context) -> None:
    """Render and queue a billing email (see billing/emails.py for the kinds)."""
    billing_email_send(kind=kind, invoice_id=invoice_id, **context)


def withdraw_bank_confirmation_later(invoice: Invoice) -> None:
    """The invoice stops waiting for the customer's bank (another card pays it, or it is
    canceled): after commit, cancel that PaymentIntent at Stripe, so that a page left open
    cannot confirm it and charge the customer a second time."""
    attempt = invoice_attempt_awaiting_authentication(invoice)
    if attempt is None:
        return
    outbox_task(
        task="billing.withdraw_bank_confirmation",
        kwargs={"stripe_id": attempt.stripe_id, "invoice_id": invoice.pk},
    )


def attempt_soon(txn_id: int) -> None:
    """Charge a transaction as soon as this database transaction commits (the
    every-minute loop would pick it up anyway; the outbox makes it prompt)."""
    outbox_task(task="billing.attempt_transaction", kwargs={"transaction_id": txn_id})
