import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="billing.send_email")
def send_billing_email(kind: str, **context) -> bool:
    """Queue a billing email in the outbox (sent by the outbox's sender, which retries
    SMTP failures). Billing services should call `billing_email_send` inside their own
    transaction instead; this stays for callers that still publish it."""
    from .emails import billing_email_send

    return billing_email_send(kind=kind, **context)


@shared_task(name="billing.attempt_transaction")
def attempt_transaction(transaction_id: int) -> str:
    """Charge or refund one transaction now (queued when it is created)."""
    from .services import transaction_attempt

    return transaction_attempt(transaction_id=transaction_id).result


@shared_task(name="billing.process_transactions")
def process_transactions() -> dict:
    """Beat runs this every minute: the same loop as `manage.py process_transactions`."""
    from .services import transactions_process_due

    report = transactions_process_due()
    return {"issued": report.invoices_issued, "results": report.results, "busy": report.skipped_busy}


@shared_task(name="billing.withdraw_bank_confirmation", bind=True, max_retries=10)
def withdraw_bank_confirmation(self, stripe_id: str, invoice_id: int) -> str:
    """Cancel, at Stripe, a payment that waited for the customer's bank and is no longer
    wanted. Retried while Stripe does not answer."""
    from .gateway import GatewayUnavailable, payment_intent_cancel, stripe

    try:
        return payment_intent_cancel(stripe_id)
    except GatewayUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(60 * 2**self.request.retries, 3600)) from exc
    except stripe.StripeError as exc:
        logger.error(
            "Stripe would not cancel %s of invoice %s (%s); if it was confirmed, refund it",
            stripe_id,
            invoice_id,
            exc,
        )
        return f"refused: {exc.user_message or exc}"
