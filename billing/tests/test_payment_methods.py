"""Saving cards: a card saved for one customer never moves to another."""

import pytest

from billing import services
from billing.models import Customer, PaymentMethod
from billing.services.payment_methods import MSG_CARD_OF_ANOTHER_CUSTOMER

pytestmark = pytest.mark.django_db


def test_a_card_saved_by_another_customer_is_refused_and_stays_theirs(billing):
    owner = billing.customer()
    card = billing.add_card(owner, "4242424242424242")
    other = billing.customer()

    with pytest.raises(services.ApplicationError, match=MSG_CARD_OF_ANOTHER_CUSTOMER):
        services.payment_method_add(customer=other, stripe_payment_method_id=card.stripe_id)

    assert PaymentMethod.objects.get(pk=card.pk).customer == owner
    assert Customer.objects.get(pk=other.pk).default_payment_method is None
    assert not PaymentMethod.objects.filter(customer=other).exists()
