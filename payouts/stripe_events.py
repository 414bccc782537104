"""
Payouts' Stripe events: a transfer reversed or failed fails its payout, so the money goes
back to the seller's balance and out again on the next payout date; a connected account
updated is read back from Stripe, since whether Stripe lets it be paid decides whether
payout runs pay its seller. Registered with `stripe_integration` in
`PayoutsConfig.ready()`.
"""

from payouts.payout_accounts import payout_account_stripe_sync
from payouts.services import payout_transfer_reversed


def transfer_event_apply(event: dict) -> str:
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    payout = payout_transfer_reversed(
        transfer_id=obj.get("id", ""), reason=f"Stripe reports the transfer {kind.split('.')[1]}."
    )
    return f"payout #{payout.pk} failed" if payout else "ignored: no payout of ours"


def account_event_apply(event: dict) -> str:
    """`account.updated`: read the account again (the event's copy may be older than what
    Stripe has now, and events arrive in any order) and store what it says."""
    obj = (event.get("data") or {}).get("object") or {}
    account = payout_account_stripe_sync(stripe_account_id=obj.get("id", ""))
    if account is None:
        return "ignored: not a seller's connected account"
    due = ", ".join(account.stripe_requirements_due) or "nothing"
    return (
        f"seller #{account.seller_id}: payouts {'enabled' if account.stripe_payouts_enabled else 'disabled'}; "
        f"due: {due}"
    )


# What PayoutsConfig.ready() registers: one handler per event type.
EVENT_HANDLERS = {
    "account.updated": account_event_apply,
    "transfer.reversed": transfer_event_apply,
    "transfer.failed": transfer_event_apply,
}
