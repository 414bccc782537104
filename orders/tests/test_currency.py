"""An order in a currency that is not ISO 4217 is refused before anything is written."""

import pytest

from accounts.tests.factories import BuyerFactory, SellerFactory
from billing.models import Invoice
from orders import services as orders
from orders.models import Order

pytestmark = pytest.mark.django_db


def test_an_order_in_an_unknown_currency_is_refused_with_no_order_left_behind(db):
    with pytest.raises(orders.ApplicationError, match="not an ISO 4217 currency code"):
        orders.order_place(
            buyer=BuyerFactory(),
            seller=SellerFactory(),
            currency="ABC",
            items=[orders.ItemLine("Lamp", 1, 100)],
        )
    assert not Order.objects.exists() and not Invoice.objects.exists()
