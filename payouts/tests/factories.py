import factory
from factory.django import DjangoModelFactory

from payouts.models import PayoutAccount


class PayoutAccountFactory(DjangoModelFactory):
    """A seller who entered valid bank details (a German IBAN) long enough ago to be paid."""

    class Meta:
        model = PayoutAccount

    seller = factory.SubFactory("accounts.tests.factories.SellerFactory")
    provider = "manual"
    bank_scheme = PayoutAccount.Scheme.IBAN
    holder_name = factory.Faker("name")
    iban = "DE89370400440532013000"
    bic = "COBADEFFXXX"

    class Params:
        us = factory.Trait(
            bank_scheme=PayoutAccount.Scheme.US_ABA,
            iban="",
            bic="",
            routing_number="011000015",
            account_number="000123456789",
        )
