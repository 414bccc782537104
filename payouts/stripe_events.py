"""
Payouts' Stripe events: a transfer reversed or failed fails its payout, so the money goes
back to the seller's balance and out again on the next payout date. Registered with
`stripe_integration` in `PayoutsConfig.ready()`.
"""

from payouts.services import payout_transfer_reversed


def transfer_event_apply(event: dict) -> str:
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    payout = payout_transfer_reversed(
        transfer_id=obj.get("id", ""), reason=f"Stripe reports the transfer {kind.split('.')[1]}."
    )
    return f"payout #{payout.pk} failed" if payout else "ignored: no payout of ours"


# What PayoutsConfig.ready() registers: one handler per event type.
EVENT_HANDLERS = {
    "transfer.reversed": transfer_event_apply,
    "transfer.failed": transfer_event_apply,
}
