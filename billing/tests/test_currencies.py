"""Currencies at the door: an invoice or order Stripe could never charge is refused
before anything is written."""

import pytest

from billing import services
from billing.models import Invoice

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("currency", "amount", "message"),
    [
        ("MGA", 5050, "whole units only"),  # half an ariary: Stripe's MGA has no minor unit
        ("KWD", 1235, "last digit is 0"),
        ("US$", 1000, "not an ISO 4217 currency code"),
    ],
)
def test_an_invoice_stripe_cannot_charge_is_refused_and_nothing_is_written(
    billing, currency, amount, message
):
    customer = billing.customer()
    with pytest.raises(services.ApplicationError, match=message):
        services.invoice_create(
            customer=customer, currency=currency, lines=[services.Line("Thing", 1, amount)]
        )
    assert not Invoice.objects.exists()


def test_a_lower_case_code_is_stored_upper_case(billing):
    invoice = services.invoice_create(
        customer=billing.customer(), currency="eur", lines=[services.Line("Thing", 1, 0)]
    )
    assert invoice.currency == "EUR"
