import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import BuyerFactory, SellerFactory
from orders.models import Order, OrderItem


class OrderFactory(DjangoModelFactory):
    """An order in any status: the protected status is set through the constructor only."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    buyer = factory.SubFactory(BuyerFactory)
    seller = factory.SubFactory(SellerFactory)
    total_amount = 2500
    currency = "USD"
    status = Order.Status.PENDING_PAYMENT
    item = factory.RelatedFactory("orders.tests.factories.OrderItemFactory", "order", unit_amount=2500)

    class Params:
        paid = factory.Trait(status=Order.Status.PAID)
        shipped = factory.Trait(status=Order.Status.SHIPPED)
        awaiting_buyer = factory.Trait(
            status=Order.Status.PENDING_CUSTOMER_CONFIRMATION, confirmation_round=1
        )
        awaiting_seller = factory.Trait(status=Order.Status.PENDING_SELLER_ACTION, confirmation_round=1)
        completed = factory.Trait(status=Order.Status.COMPLETED, confirmation_round=1)


class OrderItemFactory(DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    title = factory.Faker("catch_phrase")
    quantity = 1
    unit_amount = 2500
