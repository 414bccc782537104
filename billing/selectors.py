"""Reads for billing: what views, admin and the loop show or pick up, without changing
anything."""

from .models import Attempt, Dispute, Invoice, Transaction

IS = Invoice.Status
AUTHENTICATION_REQUIRED = "authentication_required"


def invoice_attempt_awaiting_authentication(invoice: Invoice) -> Attempt | None:
    """The charge attempt of a failed invoice that the customer's bank wants them to
    confirm (3-D Secure on an off-session payment), if that is why it failed."""
    if invoice.status != IS.PROCESS_FAILED:
        return None
    last = (
        Attempt.objects.filter(transaction__invoice=invoice, transaction__kind=Transaction.Kind.CHARGE)
        .order_by("-started_at", "-pk")
        .first()
    )
    if last is None or not last.stripe_id or last.outcome != Attempt.Outcome.DECLINED:
        return None
    return last if AUTHENTICATION_REQUIRED in (last.code, last.decline_code) else None


def transactions_due_ids(*, now, limit: int) -> list[int]:
    return list(
        Transaction.objects.filter(status__in=Transaction.OPEN_STATUSES, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def invoice_for_order(*, order_id: int) -> Invoice | None:
    """The invoice issued for an order, if any."""
    return Invoice.objects.filter(order_id=order_id).first()


def disputes_open_for_order(*, order_id: int) -> list[Dispute]:
    """The disputes still open on the payment of an order's invoice."""
    return list(Dispute.objects.filter(invoice__order_id=order_id, status=Dispute.Status.OPEN).order_by("pk"))


def charge_attempt_for_payment_intent(*, payment_intent_id: str) -> Attempt | None:
    """The succeeded charge attempt of ours that a Stripe PaymentIntent is, if any (how a
    refund or dispute made at Stripe finds its invoice)."""
    return (
        Attempt.objects.filter(
            stripe_id=payment_intent_id,
            outcome=Attempt.Outcome.SUCCEEDED,
            transaction__kind=Transaction.Kind.CHARGE,
        )
        .select_related("transaction")
        .first()
    )
