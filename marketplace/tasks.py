from celery import shared_task

from marketplace.exceptions import GatewayUnavailable

from .outbox_send import outbox_deliver as deliver
from .outbox_send import outbox_sweep as sweep
from .reconciliation import reconciliation_report_create
from .services import heartbeat_record


@shared_task(name="marketplace.record_heartbeat")
def record_heartbeat(name: str = "worker") -> str:
    heartbeat_record(name=name)
    return name


@shared_task(name="marketplace.outbox_deliver")
def outbox_deliver(email_ids: list[int] | None = None, task_ids: list[int] | None = None) -> dict:
    """Published once per committed transaction that wrote outbox rows (marketplace/outbox.py)."""
    return deliver(email_ids=email_ids or [], task_ids=task_ids or []).__dict__


@shared_task(name="marketplace.outbox_sweep")
def outbox_sweep() -> dict:
    """Beat runs this every minute: sends what the broker never delivered, and retries."""
    return sweep().__dict__


@shared_task(
    name="marketplace.reconcile_stripe",
    autoretry_for=(GatewayUnavailable,),
    retry_backoff=300,
    max_retries=3,
)
def reconcile_stripe() -> dict:
    """Beat runs this once a day: compare local records with Stripe and store the report.
    Stripe not answering is retried a few times, minutes apart; then tomorrow's run."""
    report = reconciliation_report_create()
    return {"report_id": report.pk, "differences": report.difference_count}
