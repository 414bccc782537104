"""Saving a customer's card and collecting every waiting invoice with it."""

from django.db import transaction

from marketplace.exceptions import ApplicationError

from .. import declines, gateway
from ..invoice_owners import InvoiceEvent, invoice_lock, invoice_owner_notify
from ..models import Attempt, Customer, DunningPolicy, Invoice, PaymentMethod, Transaction
from .charging import charge_soon
from .customers import customer_stripe_id
from .effects import withdraw_bank_confirmation_later

IS = Invoice.Status
MSG_CARD_OF_ANOTHER_CUSTOMER = "That card is saved to another account. Enter a card of your own."


def payment_method_add(*, customer: Customer, stripe_payment_method_id: str, by=None) -> PaymentMethod:
    """Save a card the customer entered (a Stripe PaymentMethod id made by Elements), make
    it the default, and resume collecting every invoice waiting on a payment method."""
    stripe_payment_method_id = (stripe_payment_method_id or "").strip()
    if not stripe_payment_method_id.startswith("pm_"):
        raise ApplicationError("The card could not be read. Enter it again.")
    # Stripe refuses to attach a PaymentMethod that belongs to another customer; the app
    # does not rely on that alone: a card saved here for one customer never moves to another.
    if PaymentMethod.objects.filter(stripe_id=stripe_payment_method_id).exclude(customer=customer).exists():
        raise ApplicationError(MSG_CARD_OF_ANOTHER_CUSTOMER)
    try:
        card = gateway.payment_method_attach(
            payment_method_id=stripe_payment_method_id, customer_id=customer_stripe_id(customer=customer)
        )
    except gateway.GatewayUnavailable as exc:
        raise ApplicationError(
            "The payment service is not answering right now. Try again in a minute."
        ) from exc
    except gateway.stripe.StripeError as exc:
        decline = declines.classify_stripe_error(exc.json_body or {})
        raise ApplicationError(f"That card was not accepted: {decline.message}") from exc
    with transaction.atomic():
        pm, _ = PaymentMethod.objects.update_or_create(
            stripe_id=card.stripe_id,
            defaults={
                "customer": customer,
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "fingerprint": card.fingerprint,
            },
        )
        Customer.objects.filter(pk=customer.pk).update(default_payment_method=pm)
        customer.default_payment_method = pm
    # One transaction per invoice: each locks its own owner, then the invoice (the lock
    # order), and never holds one invoice while locking the next one's owner.
    for invoice_id in (
        Invoice.objects.filter(customer=customer, status__in=Invoice.OPEN_STATUSES)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    ):
        with transaction.atomic():
            collect_with(invoice_id=invoice_id, payment_method=pm, by=by)
    return pm


def collect_with(*, invoice_id: int, payment_method: PaymentMethod, by=None) -> None:
    """Point an open invoice at a new payment method and charge it at once. Open charges
    on the old card are canceled, except one whose outcome is still unknown: that one is
    resolved first (same key), and the switch happens when its answer comes."""
    invoice = invoice_lock(invoice_id=invoice_id)
    if invoice.status not in Invoice.OPEN_STATUSES or invoice.is_zero():
        return
    open_charges = list(
        Transaction.objects.select_for_update().filter(
            invoice=invoice, kind=Transaction.Kind.CHARGE, status__in=Transaction.OPEN_STATUSES
        )
    )
    unknown = Attempt.objects.filter(
        transaction__in=open_charges, outcome=Attempt.Outcome.UNKNOWN
    ).values_list("transaction_id", flat=True)
    unknown = set(unknown)
    for txn in open_charges:
        if txn.pk not in unknown:
            txn.cancel(by=by, description="Payment method replaced")
            txn.save()
    if invoice.status == IS.PROCESSING:
        invoice.payment_method = payment_method
        invoice.save(update_fields=["payment_method"])
    else:
        withdraw_bank_confirmation_later(invoice)
        invoice.process(by=by, description=f"Paying with {payment_method}", payment_method=payment_method)
        if invoice.dunning is None:
            invoice.dunning = DunningPolicy.load().snapshot()
        invoice.save()
    if not unknown:
        charge_soon(invoice, payment_method)
    invoice_owner_notify(invoice, InvoiceEvent.PAYMENT_RESUMED)
