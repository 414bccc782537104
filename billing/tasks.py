import logging

from celery import shared_task

from .emails import billing_email_send
from .gateway import payment_intent_cancel, stripe
from .processing import transactions_process_due
from .services import transaction_attempt

logger = logging.getLogger(__name__)


@shared_task(name="billing.send_email")
def send_billing_email(kind: str, **context) -> bool:
    """Queue a billing email in the outbox (kept for messages already in the broker;
    billing's services queue their emails in their own transaction)."""
    return billing_email_send(kind=kind, **context)


@shared_task(name="billing.attempt_transaction")
def attempt_transaction(transaction_id: int) -> str:
    """Charge or refund one transaction now (queued when it is created)."""
    return transaction_attempt(transaction_id=transaction_id).result


@shared_task(name="billing.process_transactions")
def process_transactions() -> dict:
    """Beat runs this every minute: the same loop as `manage.py process_transactions`."""
    report = transactions_process_due()
    return {"issued": report.invoices_issued, "results": report.results, "busy": report.skipped_busy}


@shared_task(name="billing.withdraw_bank_confirmation")
def withdraw_bank_confirmation(stripe_id: str, invoice_id: int) -> str:
    """Cancel, at Stripe, a payment that waited for the customer's bank and is no longer
    wanted. Queued through the outbox, which retries it with backoff while Stripe does not
    answer (GatewayUnavailable propagates)."""
    try:
        return payment_intent_cancel(stripe_id)
    except stripe.StripeError as exc:
        logger.error(
            "Stripe would not cancel %s of invoice %s (%s); if it was confirmed, refund it",
            stripe_id,
            invoice_id,
            exc,
        )
        return f"refused: {exc.user_message or exc}"
