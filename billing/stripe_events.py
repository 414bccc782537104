"""
Billing's Stripe events: payments (`payment_intent.*`) and refunds (`refund.*`,
`charge.refunded`), registered with `stripe_integration` in `BillingConfig.ready()`.

An event is applied by reading the object's current state from Stripe again, never by
trusting the event's copy, so events that arrive late or out of order still end in the
right state.
"""

import logging

from billing.models import Attempt
from billing.services import attempt_reconcile_success, attempt_record
from billing.services.disputes import dispute_record
from billing.services.invoices import invoice_refund_made_at_stripe
from marketplace.money import from_stripe_amount
from stripe_integration import client

logger = logging.getLogger(__name__)


def _attempt_for(obj: dict) -> Attempt | None:
    key = (obj.get("metadata") or {}).get("attempt")
    query = (
        Attempt.objects.filter(idempotency_key=key)
        if key
        else Attempt.objects.filter(stripe_id=obj.get("id", ""))
    )
    return query.select_related("transaction").first()


def payment_intent_event_apply(event: dict) -> str:
    """A PaymentIntent changed: record an attempt whose answer was lost, or settle one
    recorded as declined that Stripe now reports as succeeded."""
    obj = (event.get("data") or {}).get("object") or {}
    attempt = _attempt_for(obj)
    if attempt is None:
        return "ignored: no attempt of ours"
    current = client.payment_intent_retrieve(obj["id"])
    if attempt.outcome == Attempt.Outcome.UNKNOWN:
        if current.status in ("requires_confirmation", "processing"):
            return f"waiting: payment is {current.status}"
        return f"recorded: {attempt_record(attempt_id=attempt.pk, result=current)}"
    if current.ok and attempt.outcome != Attempt.Outcome.SUCCEEDED:
        return f"reconciled: {attempt_reconcile_success(attempt_id=attempt.pk, result=current)}"
    return "up to date"


def refund_event_apply(event: dict) -> str:
    """A Refund (or a Charge's refunds) changed: record the refund attempts whose answer
    was lost or that Stripe had not settled (pending), once Stripe has: succeeded as a
    refund made, failed or canceled as a refused one. A refund made outside the product
    is recorded once it succeeded."""
    obj = (event.get("data") or {}).get("object") or {}
    refund_obj = obj if obj.get("object") == "refund" else None
    refunds = [refund_obj] if refund_obj else ((obj.get("refunds") or {}).get("data") or [])
    results = []
    for item in refunds:
        attempt = _attempt_for(item)
        if attempt is None and item.get("id") and item.get("payment_intent"):
            # Not a refund this product asked for: made in the Stripe Dashboard.
            current = client.refund_object(item["id"])
            if current.get("status") == "succeeded":
                results.append(
                    invoice_refund_made_at_stripe(
                        payment_intent_id=current["payment_intent"],
                        refund_id=current["id"],
                        amount=from_stripe_amount(current["amount"], current["currency"].upper()),
                    )
                )
            elif current.get("status") in client.REFUND_WAITING:
                results.append(f"waiting: refund {current['id']} is {current['status']}")
            continue
        if attempt is None:
            continue
        if attempt.outcome != Attempt.Outcome.UNKNOWN:
            if attempt.outcome == Attempt.Outcome.SUCCEEDED and item.get("id"):
                current = client.refund_object(item["id"])
                if current.get("status") in ("failed", "canceled"):
                    # Recorded as made, now failed at Stripe: the money is back with the
                    # platform. reconcile_stripe reports it; staff decide.
                    logger.error(
                        "Refund %s (attempt %s) was recorded as made but Stripe now reports it %s (%s)",
                        current["id"],
                        attempt.pk,
                        current.get("status"),
                        current.get("failure_reason") or "no reason",
                    )
                    results.append(
                        f"not recorded: {current['id']} is {current.get('status')} after succeeding"
                    )
            continue
        current = client.refund_retrieve(item["id"])
        results.append(attempt_record(attempt_id=attempt.pk, result=current))
    return f"refunds recorded: {results}" if results else "up to date"


def dispute_event_apply(event: dict) -> str:
    """A dispute was opened, updated or closed: re-read it from Stripe and record it."""
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj.get("id"), str) or not obj["id"].startswith("dp_"):
        return "ignored: not a dispute"
    current = client.dispute_object(obj["id"])
    currency = str(current["currency"]).upper()
    fees = sum(
        int(t.get("fee") or 0) for t in current.get("balance_transactions") or [] if t.get("fee", 0) > 0
    )
    return dispute_record(
        stripe_id=current["id"],
        payment_intent_id=current.get("payment_intent") or "",
        amount=from_stripe_amount(current["amount"], currency),
        currency=currency,
        reason=current.get("reason") or "",
        stripe_status=current.get("status") or "",
        fee_amount=from_stripe_amount(fees, currency),
    )


# What BillingConfig.ready() registers: one handler per event type (or type prefix).
EVENT_HANDLERS = {
    "payment_intent.*": payment_intent_event_apply,
    "refund.*": refund_event_apply,
    "charge.refunded": refund_event_apply,
    "charge.dispute.*": dispute_event_apply,
}
