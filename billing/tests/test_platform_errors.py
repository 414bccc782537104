"""Stripe refusing the platform's own request is never blamed on the customer: the card
stays usable, nothing is counted against them, no email asks them for another card, and
the charge waits for staff, who see it in the admin and retry it."""

import pytest

from billing import services
from billing.models import Attempt, PaymentMethod, Transaction

pytestmark = pytest.mark.django_db


def test_an_amount_below_stripes_minimum_waits_for_staff_and_the_card_stays_usable(
    billing, mailoutbox, admin_client
):
    customer = billing.customer(card="4242424242424242")
    sent_before = len(mailoutbox)

    invoice = billing.invoice(customer, amount=30)  # $0.30: below Stripe's $0.50 minimum

    (charge,) = billing.charges(invoice)
    attempt = Attempt.objects.get(transaction=charge)
    assert (attempt.code, attempt.category) == ("amount_too_small", "platform")
    assert invoice.status == "processing" and charge.status == "init"
    assert charge.failure_count == 0 and charge.held_for_staff_at is not None
    assert PaymentMethod.objects.get().usable
    assert len(mailoutbox) == sent_before  # nothing asks the customer to fix anything
    # The loop leaves it alone, however late it runs.
    assert billing.run().attempted == 0

    page = admin_client.get("/admin/billing/invoice/").content.decode()
    assert "1 charge waiting for staff: Stripe refused the platform's own request" in page

    # Staff press "Retry now": a new attempt with a new key (Stripe would replay the
    # refused answer for the old one).
    with billing.capture(execute=True):
        services.invoice_retry_now(invoice_id=invoice.pk)
    keys = list(Attempt.objects.filter(transaction=charge).values_list("idempotency_key", flat=True))
    assert len(keys) == 2 and len(set(keys)) == 2
    assert Transaction.objects.get(pk=charge.pk).held_for_staff_at is not None  # refused again
