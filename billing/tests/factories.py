import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import BuyerFactory, SellerFactory
from billing.models import Customer, Plan


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    user = factory.SubFactory(BuyerFactory)


class PlanFactory(DjangoModelFactory):
    class Meta:
        model = Plan

    name = "Seller Pro"
    amount = 2900
    currency = "USD"
    interval_unit = Plan.IntervalUnit.MONTH
    interval_count = 1


__all__ = ["BuyerFactory", "CustomerFactory", "PlanFactory", "SellerFactory"]
