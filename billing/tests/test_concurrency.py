"""Races on PostgreSQL with real threads, each on its own connection, against the suite's
localstripe: however many loops and workers go for the same due charges at once, each
invoice is charged exactly once."""

import pytest
import stripe

from billing import gateway, services
from billing.models import Attempt, Invoice, Transaction
from billing.tests.factories import CustomerFactory
from marketplace.tests.races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_loops_and_workers_racing_for_the_same_charges_charge_each_invoice_once(stripe_server, monkeypatch):
    monkeypatch.setattr(services, "_attempt_soon", lambda txn_id: None)  # the queued tasks are "late"
    invoices = []
    for _ in range(6):
        customer = CustomerFactory()
        services.payment_method_add(customer=customer, stripe_payment_method_id=stripe_server.card())
        invoices.append(
            services.invoice_create(customer=customer, currency="USD", lines=[services.Line("Plan", 1, 1500)])
        )
    txn_ids = list(Transaction.objects.values_list("pk", flat=True))

    results = race(
        lambda: services.transactions_process_due(concurrency=4),
        lambda: services.transactions_process_due(concurrency=4),
        *[lambda t=t: services.transaction_attempt(transaction_id=t).result for t in txn_ids],
        *[lambda t=t: services.transaction_attempt(transaction_id=t).result for t in txn_ids],
    )

    assert not [r for r in results if isinstance(r, Exception)]
    assert set(Invoice.objects.values_list("status", flat=True)) == {"settled"}
    assert Attempt.objects.count() == len(txn_ids)  # one attempt per charge, however many tried
    gateway._configure()
    intents = stripe.PaymentIntent.list(api_key="sk_test_localstripe", limit=100).data
    mine = [
        pi
        for pi in intents
        if pi.to_dict()["metadata"].get("attempt", "").startswith(stripe_server_namespace())
    ]
    assert len(mine) == len(invoices)
    assert sorted(pi.to_dict()["metadata"]["invoice"] for pi in mine) == sorted(str(i.pk) for i in invoices)


def stripe_server_namespace():
    from django.conf import settings

    return settings.STRIPE_IDEMPOTENCY_NAMESPACE
