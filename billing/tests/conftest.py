import pytest

from billing import services
from billing.models import Invoice, Transaction
from billing.tests.factories import CustomerFactory


class Billing:
    """Small helpers over the real services and the suite's localstripe."""

    def __init__(self, server, capture):
        self.server = server
        self.capture = capture

    def customer(self, card=None, **kwargs):
        customer = CustomerFactory(**kwargs)
        if card:
            self.add_card(customer, card)
        return customer

    def add_card(self, customer, number):
        with self.capture(execute=True):
            return services.payment_method_add(
                customer=customer, stripe_payment_method_id=self.server.card(number)
            )

    def invoice(self, customer, amount=1000, **kwargs):
        with self.capture(execute=True):
            invoice = services.invoice_create(
                customer=customer, currency="USD", lines=[services.Line("Thing", 1, amount)], **kwargs
            )
        return self.fresh(invoice)

    def run(self, now=None):
        with self.capture(execute=True):
            return services.transactions_process_due(now=now)

    @staticmethod
    def fresh(invoice):
        return Invoice.objects.get(pk=invoice.pk)

    @staticmethod
    def charges(invoice):
        return list(Transaction.objects.filter(invoice=invoice, kind="charge").order_by("id"))


@pytest.fixture
def billing(db, stripe_server, django_capture_on_commit_callbacks):
    return Billing(stripe_server, django_capture_on_commit_callbacks)
