"""Disputes (chargebacks): recorded from Stripe's `charge.dispute.*` events, and passed on
to the invoice's owner (an order holds the seller's earning while a dispute is open,
releases it when won, and takes it back when lost)."""

from django.db import transaction
from django.utils import timezone

from ..invoice_owners import InvoiceEvent, invoice_lock, invoice_owner_notify
from ..models import Dispute
from ..selectors import charge_attempt_for_payment_intent

# Stripe's closed dispute statuses, in our words. An inquiry that closes without becoming a
# chargeback (`warning_closed`) took no money: for the seller it is won, and the hold goes.
# Every other status (warning_needs_response, needs_response, under_review, ...) is open.
CLOSED = {
    "won": Dispute.Status.WON,
    "warning_closed": Dispute.Status.WON,
    "lost": Dispute.Status.LOST,
}


def dispute_status_from_stripe(stripe_status: str) -> str:
    return CLOSED.get(stripe_status, Dispute.Status.OPEN)


def dispute_record(
    *,
    stripe_id: str,
    payment_intent_id: str,
    amount: int,
    currency: str,
    reason: str,
    stripe_status: str,
    fee_amount: int = 0,
) -> str:
    """Record a dispute as Stripe has it now (amounts in ISO minor units), once per change:
    a new dispute tells the invoice's owner it is disputed; one that closed tells it won or
    lost. Returns what was done, for the webhook's record."""
    paid_by = charge_attempt_for_payment_intent(payment_intent_id=payment_intent_id)
    if paid_by is None:
        return "ignored: not a payment of ours"
    with transaction.atomic():
        invoice = invoice_lock(invoice_id=paid_by.transaction.invoice_id)
        dispute = Dispute.objects.select_for_update().filter(stripe_id=stripe_id).first()
        done = []
        if dispute is None:
            dispute = Dispute.objects.create(
                invoice=invoice,
                stripe_id=stripe_id,
                payment_intent=payment_intent_id,
                amount=amount,
                currency=currency,
                reason=reason[:100],
                stripe_status=stripe_status[:50],
                fee_amount=fee_amount,
            )
            invoice_owner_notify(invoice, InvoiceEvent.DISPUTED, dispute=dispute)
            done.append("opened")
        closed = CLOSED.get(stripe_status)
        if closed and dispute.status == Dispute.Status.OPEN:
            dispute.status, dispute.closed_at, dispute.stripe_status = closed, timezone.now(), stripe_status
            dispute.save(update_fields=["status", "closed_at", "stripe_status"])
            event = InvoiceEvent.DISPUTE_WON if closed == Dispute.Status.WON else InvoiceEvent.DISPUTE_LOST
            invoice_owner_notify(invoice, event, dispute=dispute)
            done.append(closed)
        elif dispute.stripe_status != stripe_status and not closed:
            Dispute.objects.filter(pk=dispute.pk).update(stripe_status=stripe_status[:50])
    return f"dispute {stripe_id}: {', '.join(done) or 'up to date'}"
