"""
Demo billing: a seller plan, a paying subscription, a subscription in dunning, an
invoice waiting for the customer's bank, and invoices in every status but the passing
`refunding`. Cards are Stripe's documented test cards, saved and charged
through the Stripe-compatible server like real ones.
"""

from datetime import timedelta

import stripe
from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from . import gateway, services
from .links import card_update_url
from .models import Invoice, Plan, Subscription, Transaction

GOOD_CARD = "4242424242424242"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
LOST_CARD = "4000000000009987"
BANK_CONFIRMS_CARD = "4000002500003155"  # 3-D Secure required: off-session charges need the customer


def give_card(user, number: str):
    """Save a test card for `user` (what the card page does through Elements)."""
    gateway._configure()
    try:
        pm = stripe.PaymentMethod.create(
            type="card",
            card={"number": number, "exp_month": 12, "exp_year": timezone.now().year + 3, "cvc": "123"},
            api_key=settings.STRIPE_SECRET_KEY,
        )
    except stripe.APIConnectionError as exc:
        raise CommandError(
            f"The demo pays through Stripe at {settings.STRIPE_API_BASE}, which is not answering. "
            "Start it first: `make run` does, or `python -m marketplace.localstripe_server`."
        ) from exc
    return services.payment_method_add(
        customer=services.customer_get_or_create(user=user), stripe_payment_method_id=pm["id"]
    )


def charge_now(invoice: Invoice) -> None:
    """Attempt the invoice's open transactions now rather than waiting for the worker."""
    for txn_id in Transaction.objects.filter(
        invoice=invoice, status__in=Transaction.OPEN_STATUSES
    ).values_list("pk", flat=True):
        services.transaction_attempt(transaction_id=txn_id)


def seed(*, people, stdout):
    if Plan.objects.filter(name="Seller Pro").exists():
        stdout.write("Billing: demo plan and subscriptions already exist.")
        return
    plan = Plan.objects.create(
        name="Seller Pro", amount=2900, currency="USD", interval_unit="month", interval_count=1
    )
    paying, failing = people.sellers[0], people.sellers[1]

    # A paying subscription that started two months ago: three monthly invoices, settled.
    give_card(paying, GOOD_CARD)
    services.subscription_create(
        customer=services.customer_get_or_create(user=paying),
        plan=plan,
        started_at=timezone.now() - timedelta(days=61),
    )
    services.subscriptions_yield_invoices()
    for invoice in Invoice.objects.filter(subscription__customer__user=paying):
        charge_now(invoice)
    # A one-off invoice, settled and then partly refunded.
    one_off = services.invoice_create(
        customer=services.customer_get_or_create(user=paying),
        currency="USD",
        lines=[services.Line("Featured listing, one week", 1, 1500)],
    )
    charge_now(one_off)
    refund = services.invoice_refund(
        invoice_id=one_off.pk, amount=500, reason="Listing went live two days late"
    )
    services.transaction_attempt(transaction_id=refund.pk)

    # A subscription in dunning: a soft decline first, then a lost card (hard decline).
    give_card(failing, INSUFFICIENT_FUNDS_CARD)
    sub = services.subscription_create(customer=services.customer_get_or_create(user=failing), plan=plan)
    services.subscriptions_yield_invoices()
    for invoice in Invoice.objects.filter(subscription=sub):
        charge_now(invoice)
    give_card(failing, LOST_CARD)
    for invoice in Invoice.objects.filter(subscription=sub):
        charge_now(invoice)

    # An open invoice with no card on file yet.
    services.invoice_create(
        customer=services.customer_get_or_create(user=people.admin),
        currency="USD",
        lines=[services.Line("Seller Pro, trial of the admin's own shop", 1, 2900)],
    )
    # An invoice whose charge the bank wants the customer to confirm (3-D Secure): its card
    # link offers "Confirm the payment". The customer has no login; the link is all they need.
    from accounts.models import User

    member = User.objects.create_user(email="member@demo.test", role=User.Role.BUYER, password=None)
    give_card(member, BANK_CONFIRMS_CARD)
    confirm = services.invoice_create(
        customer=services.customer_get_or_create(user=member),
        currency="USD",
        lines=[services.Line("Seller Pro, one year", 1, 29000)],
    )
    charge_now(confirm)

    counts = {status: Invoice.objects.filter(status=status).count() for status in Invoice.Status.values}
    stdout.write(
        "Billing: plan Seller Pro; "
        f"{Subscription.objects.filter(status='active').count()} active and "
        f"{Subscription.objects.exclude(status='active').count()} in dunning; invoices "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    )
    stdout.write(f"Billing: invoice #{confirm.pk} waits for its customer's bank: {card_update_url(confirm)}")


def _logs_of(record):
    from django.contrib.contenttypes.models import ContentType
    from django_fsm_log.models import StateLog

    return StateLog.objects.filter(content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk)


def invoice_retime(invoice_id: int, *, created_at, paid_at=None, refunded_at=None) -> None:
    """Move a demo invoice's story to the days its order's story took: issued when the
    order was placed, charged and paid at `paid_at`, refunded at `refunded_at`. Only
    dates change, never an amount or a status."""
    invoice = Invoice.objects.get(pk=invoice_id)
    Invoice.objects.filter(pk=invoice.pk).update(
        created_at=created_at, **({"settled_at": paid_at} if invoice.settled_at and paid_at else {})
    )
    for txn in invoice.transactions.all():
        at = refunded_at if txn.kind == Transaction.Kind.REFUND else paid_at
        if at is None:
            continue
        Transaction.objects.filter(pk=txn.pk).update(
            created_at=at, next_attempt_at=at, **({"done_at": at} if txn.done_at else {})
        )
        txn.attempts.update(started_at=at, finished_at=at)
        _logs_of(txn).update(timestamp=at)
    for receipt in invoice.receipts.all():
        at = refunded_at if receipt.kind == receipt.Kind.REFUND else paid_at
        if at is not None:
            type(receipt).objects.filter(pk=receipt.pk).update(issued_at=at)
    for log in _logs_of(invoice):
        at = {"process": paid_at, "settle": paid_at, "settle_zero": paid_at}.get(log.transition)
        if log.transition in ("start_refund", "finish_full_refund", "finish_partial_refund"):
            at = refunded_at
        if at is not None:
            type(log).objects.filter(pk=log.pk).update(timestamp=at)
