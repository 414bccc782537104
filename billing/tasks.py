from smtplib import SMTPException

from celery import shared_task


@shared_task(
    name="billing.send_email",
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def send_billing_email(kind: str, **context) -> bool:
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
