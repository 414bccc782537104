"""Payments the customer's bank wants confirmed (3-D Secure on an off-session charge), and
charges that went through after we had recorded them as declined."""

import logging

from django.db import transaction
from django.db.models import Q

from marketplace.exceptions import ApplicationError

from .. import gateway
from ..invoice_owners import InvoiceEvent, invoice_lock, invoice_owner_notify
from ..models import Attempt, Invoice, Receipt, Transaction
from ..selectors import invoice_attempt_awaiting_authentication
from .charging import AttemptResult
from .receipts import receipt_issue

logger = logging.getLogger(__name__)
IS = Invoice.Status
TS = Transaction.Status


def invoice_payment_authenticated(*, invoice_id: int, payment_intent_id: str) -> AttemptResult | str:
    """The customer confirmed the payment with their bank in the browser: read the
    PaymentIntent back from Stripe and, if it went through, settle the invoice."""
    invoice = Invoice.objects.get(pk=invoice_id)
    attempt = invoice_attempt_awaiting_authentication(invoice)
    if attempt is None or attempt.stripe_id != payment_intent_id:
        raise ApplicationError("This payment is not waiting for your bank any more. Reload the page.")
    result = gateway.payment_intent_retrieve(payment_intent_id)
    if not result.ok:
        raise ApplicationError(
            "Your bank did not confirm the payment, so nothing was charged. "
            "Try again, or add another card below."
        )
    return attempt_reconcile_success(attempt_id=attempt.pk, result=result)


def attempt_reconcile_success(*, attempt_id: int, result: gateway.GatewayResult) -> AttemptResult | str:
    """Stripe says a charge we had recorded as declined went through after all (the
    customer completed 3-D Secure later). Record the money; settle the invoice if it is
    still waiting for it; otherwise leave it for ops, loudly."""
    with transaction.atomic():
        # The invoice's owner, the invoice, the transaction, the attempt: the lock order.
        invoice_id, txn_id = Attempt.objects.values_list("transaction__invoice_id", "transaction_id").get(
            pk=attempt_id
        )
        invoice = invoice_lock(invoice_id=invoice_id)
        # Every transaction of the invoice this may touch, in id order, before the attempt.
        locked = {
            t.pk: t
            for t in Transaction.objects.select_for_update()
            .filter(Q(pk=txn_id) | Q(invoice_id=invoice_id, status__in=Transaction.OPEN_STATUSES))
            .order_by("pk")
        }
        old = locked[txn_id]
        attempt = Attempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.outcome == Attempt.Outcome.SUCCEEDED:
            return AttemptResult.SKIPPED
        attempt.outcome = Attempt.Outcome.SUCCEEDED
        attempt.decision = "succeeded later (the customer completed the bank's check)"
        attempt.save()
        if Transaction.objects.filter(invoice=invoice, kind=Transaction.Kind.CHARGE, status=TS.DONE).exists():
            logger.error("%s was charged twice (%s); refund one of them", invoice, result.stripe_id)
            return "charged twice: needs a refund"
        if invoice.status not in (IS.PROCESSING, IS.PROCESS_FAILED):
            logger.error("%s is %s but %s went through; refund it", invoice, invoice.status, result.stripe_id)
            return f"paid while {invoice.status}: needs a refund"
        for txn in [t for t in locked.values() if t.status in Transaction.OPEN_STATUSES]:
            txn.cancel(description="Paid by a charge that went through later")
            txn.save()
        done = Transaction.objects.create(
            invoice=invoice,
            kind=Transaction.Kind.CHARGE,
            amount=old.amount,
            currency=old.currency,
            payment_method=old.payment_method,
        )
        done.succeed_first_time(description=attempt.decision, stripe_id=result.stripe_id)
        done.save()
        if invoice.status == IS.PROCESS_FAILED:
            invoice.process(description="Late payment arrived", payment_method=old.payment_method)
        invoice.settle(description=f"Charged {result.stripe_id}")
        invoice.save()
        invoice_owner_notify(invoice, InvoiceEvent.SETTLED)
        receipt_issue(
            invoice=invoice, kind=Receipt.Kind.PAYMENT, amount=done.amount, reference=result.stripe_id
        )
        return AttemptResult.DONE
