"""The loop counts what happened to each due transaction in named results."""

import pytest
from django.utils import timezone

from billing import services
from billing.models import PaymentMethod
from billing.services import AttemptResult

pytestmark = pytest.mark.django_db


def test_the_loop_counts_each_transaction_under_an_attempt_result(billing):
    cards = {"paid": "4242424242424242", "soft": "4000000000009995", "hard": "4000000000009987"}
    customers = {name: billing.customer(card=number) for name, number in cards.items()}
    customers["card removed"] = billing.customer(card="4242424242424242")
    # Issued without running their after-commit charges, so the loop finds them due.
    with billing.capture():
        for customer in customers.values():
            services.invoice_create(
                customer=customer, currency="USD", lines=[services.Line("Thing", 1, 1000)]
            )
    PaymentMethod.objects.filter(customer=customers["card removed"]).update(unusable_since=timezone.now())

    report = billing.run()

    assert report.results == {"done": 1, "retrying": 1, "failed": 2}
    assert all(type(result) is AttemptResult for result in report.results)
    assert report.attempted == 4


def test_a_transaction_no_longer_due_is_skipped(billing):
    invoice = billing.invoice(billing.customer(card="4242424242424242"))
    (charge,) = billing.charges(invoice)
    result = services.transaction_attempt(transaction_id=charge.pk).result
    assert result is AttemptResult.SKIPPED
