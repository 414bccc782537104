"""Billing's side effects after commit: emails, "charge this now", and withdrawing a
payment left waiting for the customer's bank at Stripe."""

import logging

from celery import current_app
from django.db import transaction

from ..models import Invoice
from ..selectors import invoice_attempt_awaiting_authentication

logger = logging.getLogger(__name__)


def _queue_after_commit(task_name: str, *args, trouble: str, **kwargs) -> None:
    """Queue a Celery task once this database transaction commits (never for a change
    that rolls back). If the broker cannot take it, log `trouble` and go on: the change
    itself stands."""

    def queue_it():
        try:
            current_app.tasks[task_name].delay(*args, **kwargs)
        except Exception:
            logger.exception("%s", trouble)

    transaction.on_commit(queue_it)


def email(kind: str, *, invoice_id: int | None = None, **context) -> None:
    _queue_after_commit(
        "billing.send_email",
        kind,
        invoice_id=invoice_id,
        **context,
        trouble=f"Could not queue the {kind} email for invoice {invoice_id}",
    )


def withdraw_bank_confirmation_later(invoice: Invoice) -> None:
    """The invoice stops waiting for the customer's bank (another card pays it, or it is
    canceled): after commit, cancel that PaymentIntent at Stripe, so that a page left open
    cannot confirm it and charge the customer a second time."""
    attempt = invoice_attempt_awaiting_authentication(invoice)
    if attempt is None:
        return
    _queue_after_commit(
        "billing.withdraw_bank_confirmation",
        attempt.stripe_id,
        invoice.pk,
        trouble=f"Could not queue the cancel of {attempt.stripe_id} for {invoice}",
    )


def attempt_soon(txn_id: int) -> None:
    """Charge a transaction as soon as this database transaction commits (if it cannot be
    queued, the every-minute loop picks it up anyway)."""
    _queue_after_commit(
        "billing.attempt_transaction",
        txn_id,
        trouble=f"Could not queue transaction {txn_id}; process_transactions will.",
    )
