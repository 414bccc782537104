"""Issuing, canceling, retrying and refunding invoices."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from marketplace.exceptions import ApplicationError
from marketplace.money import currency_clean, format_money, to_stripe_amount

from ..invoice_owners import InvoiceEvent, invoice_lock, invoice_owner_notify
from ..models import Attempt, Customer, DunningPolicy, Invoice, InvoiceLine, Receipt, Transaction
from ..selectors import charge_attempt_for_payment_intent
from .charging import charge_soon
from .effects import attempt_soon, email, withdraw_bank_confirmation_later
from .payment_methods import collect_with
from .receipts import receipt_issue

logger = logging.getLogger(__name__)
IS = Invoice.Status
TS = Transaction.Status
INVOICE_OPEN = Invoice.OPEN_STATUSES


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_amount: int


def invoice_create(
    *,
    customer: Customer,
    currency: str,
    lines: list[Line],
    order=None,
    subscription=None,
    period_index=None,
    period_start_at=None,
    period_end_at=None,
) -> Invoice:
    """Issue an invoice and start collecting it: a zero total settles at once; with a
    usable saved card it is charged as soon as this transaction commits; without one the
    customer is asked for a card."""
    if not lines:
        raise ApplicationError("An invoice needs at least one line.")
    if any(line.quantity < 1 or line.unit_amount < 0 for line in lines):
        raise ApplicationError(
            "Each invoice line needs a quantity of at least 1 and an amount of zero or more."
        )
    total = sum(line.quantity * line.unit_amount for line in lines)
    currency = _chargeable(total, currency)
    with transaction.atomic():
        invoice = Invoice.objects.create(
            customer=customer,
            currency=currency,
            total_amount=total,
            order=order,
            subscription=subscription,
            period_index=period_index,
            period_start=period_start_at,
            period_end=period_end_at,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                description=line.description[:300],
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.quantity * line.unit_amount,
            )
            for line in lines
        )
        _invoice_start(invoice)
    return invoice


def _chargeable(amount: int, currency: str) -> str:
    """The currency code as stored, if Stripe can take `amount` in it; refused up front
    otherwise, so no invoice is issued that could never be charged."""
    try:
        code = currency_clean(currency)
        to_stripe_amount(amount, code)
    except ValueError as exc:
        raise ApplicationError(str(exc)) from exc
    return code


def _invoice_start(invoice: Invoice) -> None:
    if invoice.is_zero():
        invoice.settle_zero(description="Nothing to pay")
        invoice.save()
        invoice_owner_notify(invoice, InvoiceEvent.SETTLED)
        return
    pm = (
        Customer.objects.select_related("default_payment_method")
        .get(pk=invoice.customer_id)
        .default_payment_method
    )
    if pm is not None and pm.usable:
        invoice.dunning = DunningPolicy.load().snapshot()
        invoice.process(description=f"Paying with {pm}", payment_method=pm)
        invoice.save()
        charge_soon(invoice, pm)
    else:
        email(
            "action_required", invoice_id=invoice.pk, reason="There is no card on file to pay this invoice."
        )


def invoice_cancel(*, invoice_id: int, by=None, reason: str = "") -> Invoice:
    """Cancel an unpaid invoice and its open charges. A charge whose outcome is still
    unknown blocks this: it may have gone through."""
    with transaction.atomic():
        invoice = invoice_lock(invoice_id=invoice_id)
        invoice_cancel_check(invoice=invoice)
        cancel_open_transactions(invoice, by=by, reason=reason or "Invoice canceled")
        invoice.cancel(by=by, description=reason or None)
        invoice.save()
        invoice_owner_notify(invoice, InvoiceEvent.CANCELED, by=by, reason=reason)
    return invoice


def invoice_cancel_check(*, invoice: Invoice) -> None:
    """Raise ApplicationError, saying why, when `invoice` cannot be canceled now. Admin
    actions check every selected invoice with it before canceling any."""
    if invoice.status not in Invoice.OPEN_STATUSES:
        raise ApplicationError(f"{invoice} is {invoice.get_status_display().lower()}: it cannot be canceled.")
    _no_charge_waiting(
        invoice, Transaction.objects.filter(invoice=invoice, status__in=Transaction.OPEN_STATUSES)
    )


def _no_charge_waiting(invoice: Invoice, txns) -> None:
    if Attempt.objects.filter(transaction__in=txns, outcome=Attempt.Outcome.UNKNOWN).exists():
        raise ApplicationError(
            f"A charge of {invoice} is still waiting for the payment service's answer. Try again in a few minutes."
        )


def cancel_open_transactions(invoice: Invoice, *, by, reason: str) -> None:
    txns = list(
        Transaction.objects.select_for_update().filter(invoice=invoice, status__in=Transaction.OPEN_STATUSES)
    )
    _no_charge_waiting(invoice, txns)
    withdraw_bank_confirmation_later(invoice)
    for txn in txns:
        txn.cancel(by=by, description=reason)
        txn.save()


def _open_charges(invoice: Invoice):
    return Transaction.objects.filter(
        invoice=invoice, kind=Transaction.Kind.CHARGE, status__in=Transaction.OPEN_STATUSES
    )


def invoice_retry_now_check(*, invoice: Invoice) -> None:
    """Raise ApplicationError when `invoice` has nothing to charge again now. Admin actions
    check every selected invoice with it before retrying any."""
    if _open_charges(invoice).exists():
        return
    if invoice.status == IS.PROCESS_FAILED and invoice.payment_method and invoice.payment_method.usable:
        return
    raise ApplicationError(
        f"{invoice} has nothing to retry: it is {invoice.get_status_display().lower()}"
        + (" and its card may not be charged again." if invoice.status == IS.PROCESS_FAILED else ".")
    )


def invoice_retry_now(*, invoice_id: int, by=None) -> Invoice:
    """Admin: charge a failing invoice now instead of on its schedule."""
    with transaction.atomic():
        invoice = invoice_lock(invoice_id=invoice_id)
        invoice_retry_now_check(invoice=invoice)
        txn = _open_charges(invoice).select_for_update().first()
        if txn is not None:
            txn.next_attempt_at = timezone.now()
            txn.held_for_staff_at = None
            txn.save(update_fields=["next_attempt_at", "held_for_staff_at"])
            attempt_soon(txn.pk)
            return invoice
        collect_with(invoice_id=invoice.pk, payment_method=invoice.payment_method, by=by)
        return invoice


def invoice_refund(*, invoice_id: int, amount: int | None = None, by=None, reason: str = "") -> Transaction:
    """Refund a settled invoice, in full (amount None) or in part. The refund is retried
    while Stripe is unreachable until it goes through."""
    with transaction.atomic():
        invoice = invoice_lock(invoice_id=invoice_id)
        amount = invoice_refund_check(invoice=invoice, amount=amount)
        charge = invoice.transactions.filter(kind=Transaction.Kind.CHARGE, status=TS.DONE).first()
        invoice.start_refund(by=by, description=reason or None)
        invoice.save()
        if charge is None:  # a zero invoice: nothing went through Stripe, nothing to send back
            full = amount == invoice.refundable_amount
            (invoice.finish_full_refund if full else invoice.finish_partial_refund)(
                by=by, description=reason or None, amount=amount
            )
            invoice.save()
            invoice_owner_notify(invoice, InvoiceEvent.REFUNDED, amount=amount, reason=reason, by=by)
            return None
        txn = Transaction.objects.create(
            invoice=invoice,
            kind=Transaction.Kind.REFUND,
            amount=amount,
            currency=invoice.currency,
            refund_of=charge,
            reason=reason[:300],
        )
        attempt_soon(txn.pk)
    return txn


def invoice_refund_check(*, invoice: Invoice, amount: int | None) -> int:
    """The amount a refund of `invoice` would send back (all that is left when `amount` is
    None), or ApplicationError saying why it cannot. Admin actions check every selected
    invoice with it before refunding any."""
    if invoice.status != IS.SETTLED:
        raise ApplicationError(
            f"{invoice} is {invoice.get_status_display().lower()}: only a settled invoice can be refunded."
        )
    amount = invoice.refundable_amount if amount is None else amount
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ApplicationError("The refund amount must be more than zero.")
    if amount > invoice.refundable_amount:
        raise ApplicationError(
            f"At most {format_money(invoice.refundable_amount, invoice.currency)} of {invoice} can still be refunded."
        )
    _chargeable(amount, invoice.currency)
    return amount


def invoice_refund_made_at_stripe(
    *, payment_intent_id: str, refund_id: str, amount: int, reason: str = ""
) -> str:
    """A refund made at Stripe outside the product (the Stripe Dashboard): recorded once,
    by its Stripe id, as a done refund of the invoice that PaymentIntent paid, and the
    invoice's owner follows (an order is refunded, the seller's earning taken back).
    `amount` is in ISO minor units. Returns what was done, for the webhook's record."""
    paid_by = charge_attempt_for_payment_intent(payment_intent_id=payment_intent_id)
    if paid_by is None:
        return "ignored: not a payment of ours"
    with transaction.atomic():
        invoice = invoice_lock(invoice_id=paid_by.transaction.invoice_id)
        if Transaction.objects.filter(kind=Transaction.Kind.REFUND, stripe_id=refund_id).exists():
            return "up to date"
        if invoice.status != IS.SETTLED:
            # A refund of ours is in flight (refunding) or the invoice is refunded already:
            # reconcile_stripe reports the difference for staff.
            logger.error("%s was refunded at Stripe (%s) while %s", invoice, refund_id, invoice.status)
            return f"not recorded: {invoice} is {invoice.status}"
        amount = min(amount, invoice.refundable_amount)
        reason = reason or "Refunded at Stripe (outside the product)"
        charge = invoice.transactions.filter(kind=Transaction.Kind.CHARGE, status=TS.DONE).first()
        txn = Transaction.objects.create(
            invoice=invoice,
            kind=Transaction.Kind.REFUND,
            amount=amount,
            currency=invoice.currency,
            refund_of=charge,
            reason=reason[:300],
        )
        txn.succeed_first_time(description=reason[:300], stripe_id=refund_id)
        txn.save()
        invoice.start_refund(description=reason[:300])
        full = amount >= invoice.refundable_amount
        (invoice.finish_full_refund if full else invoice.finish_partial_refund)(
            description=f"Refunded at Stripe {refund_id}", amount=amount
        )
        invoice.save()
        invoice_owner_notify(
            invoice, InvoiceEvent.REFUNDED, amount=amount, reason=reason, reference=refund_id
        )
        receipt_issue(invoice=invoice, kind=Receipt.Kind.REFUND, amount=amount, reference=refund_id)
    return f"recorded refund {refund_id} of {invoice}"
