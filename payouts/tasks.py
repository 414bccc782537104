from datetime import date

from celery import shared_task

from .emails import payout_email_send
from .payout_accounts import payout_accounts_stripe_sync_all
from .services import payout_run_chunk_build, payout_runs_due, payouts_submit


@shared_task(name="payouts.run_due")
def run_due_payouts() -> list[dict]:
    """Beat runs this every hour: today's payout run, once, and any date missed while
    nothing ran. A run already done is skipped, so waking up hourly is harmless."""
    return [
        {
            "date": r.payout_date.isoformat(),
            "payouts": r.payouts,
            "already_done": r.already_done,
            "paused": r.paused,
        }
        for r in payout_runs_due(spread=True)
    ]


@shared_task(name="payouts.run_chunk")
def run_payout_chunk(chunk_id: int) -> bool:
    """One chunk of sellers of a payout run (sent by the run; any worker may take it).
    False when another process built it already or is building it."""
    return payout_run_chunk_build(chunk_id=chunk_id)


@shared_task(name="payouts.submit")
def submit_payouts(payout_date: str | None = None) -> int:
    """Send the Stripe Connect transfers of scheduled payouts (and resend unanswered ones)."""
    return payouts_submit(payout_date=date.fromisoformat(payout_date) if payout_date else None)


@shared_task(name="payouts.sync_connected_accounts")
def sync_connected_accounts() -> dict:
    """Read every seller's Stripe connected account back, in case an `account.updated`
    webhook was lost: whether Stripe lets each one be paid decides the next payout run."""
    read, failed = payout_accounts_stripe_sync_all()
    return {"read": read, "not_answered": failed}


@shared_task(name="payouts.send_email")
def send_payout_email(kind: str, payout_id: int) -> bool:
    """Only for messages published before emails went through the outbox: queues the
    email there. Nothing publishes this any more; remove it once those have drained."""
    return payout_email_send(kind=kind, payout_id=payout_id)
