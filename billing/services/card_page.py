"""
What the card page (the link in billing emails) asks of Stripe, and how often.

The page makes no Stripe call to be shown. When the customer starts typing a card, the
page asks for the SetupIntent its form confirms: the invoice's open one is reused, and a
new one is made only when there is none Stripe still lets be confirmed, so however often
a link is opened an invoice has at most one open SetupIntent at a time.

Every Stripe call the page causes is first reserved against a per-invoice limit
(BILLING_CARD_PAGE_STRIPE_CALLS_PER_MINUTE over the last minute), counted in the database
so that every web process shares it: whoever holds a link cannot make the platform spend
its Stripe pace (shared with the charges) on that page.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.exceptions import ApplicationError

from .. import gateway
from ..models import CardPageStripeCall, CardSetup, Invoice
from .customers import customer_stripe_id

TOO_MANY_CALLS = (
    "This page has asked the payment service too often in the last minute. Wait a minute, then try again."
)
# A SetupIntent Stripe still lets the customer confirm (again, after a decline).
REUSABLE = {"requires_payment_method", "requires_confirmation", "requires_action"}
KEPT_FOR = timedelta(days=1)


class TooManyStripeCalls(ApplicationError):
    def __init__(self):
        super().__init__(TOO_MANY_CALLS)


def card_page_stripe_calls_reserve(*, invoice_id: int, what: str, calls: int = 1) -> None:
    """Reserve `calls` Stripe calls for the card page of an invoice, or raise
    TooManyStripeCalls (and reserve none) when that would go over the limit for the last
    minute. The invoice row is locked while counting, so two requests at once cannot
    both take the last call."""
    now = timezone.now()
    limit = settings.BILLING_CARD_PAGE_STRIPE_CALLS_PER_MINUTE
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(pk=invoice_id).values_list("pk", flat=True).first()
        recent = CardPageStripeCall.objects.filter(
            invoice_id=invoice_id, made_at__gt=now - timedelta(minutes=1)
        )
        if recent.count() + calls > limit:
            raise TooManyStripeCalls()
        CardPageStripeCall.objects.filter(invoice_id=invoice_id, made_at__lt=now - KEPT_FOR).delete()
        CardPageStripeCall.objects.bulk_create(
            CardPageStripeCall(invoice_id=invoice_id, made_at=now, what=what) for _ in range(calls)
        )


def _customer_stripe_id(invoice: Invoice) -> str:
    if not invoice.customer.stripe_customer_id:
        card_page_stripe_calls_reserve(invoice_id=invoice.pk, what="customer create")
    return customer_stripe_id(customer=invoice.customer)


def card_setup_start(*, invoice: Invoice) -> str:
    """The client secret of the SetupIntent the card form of `invoice` confirms: the
    invoice's open one while Stripe still lets it be confirmed, else a new one. Raises
    TooManyStripeCalls, or the gateway's errors when Stripe does not answer."""
    customer_id = _customer_stripe_id(invoice)
    for setup in invoice.card_setups.filter(used_at__isnull=True):
        card_page_stripe_calls_reserve(invoice_id=invoice.pk, what="setup intent retrieve")
        intent = gateway.setup_intent_retrieve(setup.stripe_id)
        if intent.get("status") in REUSABLE and intent.get("customer") == customer_id:
            return intent["client_secret"]
        # Succeeded (its card saved in a page that never came back), canceled or processing.
        CardSetup.objects.filter(pk=setup.pk).update(used_at=timezone.now())
    card_page_stripe_calls_reserve(invoice_id=invoice.pk, what="setup intent create")
    number = CardSetup.objects.filter(invoice=invoice).count() + 1
    intent = gateway.setup_intent_create(
        customer_id=customer_id,
        # Two requests at once (a double click) send the same key and get the same one.
        idempotency_key=f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:invoice-{invoice.pk}:card-setup-{number}",
        metadata={"invoice": str(invoice.pk)},
    )
    try:
        with transaction.atomic():
            CardSetup.objects.get_or_create(stripe_id=intent["id"], defaults={"invoice": invoice})
    except IntegrityError:  # the other request of the double click recorded it
        pass
    return intent["client_secret"]


def card_setup_used(*, invoice: Invoice, setup_intent_id: str) -> None:
    """The card a SetupIntent saved was posted back: the next card needs a new one."""
    CardSetup.objects.filter(invoice=invoice, stripe_id=setup_intent_id, used_at__isnull=True).update(
        used_at=timezone.now()
    )
