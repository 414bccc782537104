"""Races on PostgreSQL with real threads, each on its own connection, against the suite's
localstripe: however many loops and workers go for the same due charges at once, each
invoice is charged exactly once."""

from datetime import timedelta

import pytest
import stripe
from django.utils import timezone

from billing import gateway, services
from billing.models import Attempt, Invoice, Transaction
from billing.services import charging
from billing.tests.factories import CustomerFactory
from marketplace.tests.races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_loops_and_workers_racing_for_the_same_charges_charge_each_invoice_once(stripe_server, monkeypatch):
    monkeypatch.setattr(charging, "attempt_soon", lambda txn_id: None)  # the queued tasks are "late"
    invoices = _backlog(stripe_server, 6)
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
    assert _charged_invoices() == sorted(i.pk for i in invoices)


def _charged_invoices() -> list[int]:
    """The invoice of every PaymentIntent this test made, one entry per intent (every page:
    the suite's localstripe holds the whole session's intents)."""
    from django.conf import settings

    gateway._configure()
    intents = stripe.PaymentIntent.list(api_key="sk_test_localstripe", limit=100).auto_paging_iter()
    return sorted(
        int(pi.to_dict()["metadata"]["invoice"])
        for pi in intents
        if pi.to_dict()["metadata"].get("attempt", "").startswith(settings.STRIPE_IDEMPOTENCY_NAMESPACE)
    )


def _backlog(server, count) -> list[Invoice]:
    invoices = []
    for _ in range(count):
        customer = CustomerFactory()
        services.payment_method_add(customer=customer, stripe_payment_method_id=server.card())
        invoices.append(
            services.invoice_create(customer=customer, currency="USD", lines=[services.Line("Plan", 1, 1500)])
        )
    return invoices


def _second_open_charge(invoice) -> Transaction:
    """A second open charge of the same invoice, as ops might make by hand."""
    return Transaction.objects.create(
        invoice=invoice,
        kind=Transaction.Kind.CHARGE,
        amount=invoice.total_amount,
        currency=invoice.currency,
        payment_method=invoice.payment_method,
    )


def test_a_claimed_batch_never_sends_two_charges_of_one_invoice(stripe_server, monkeypatch):
    monkeypatch.setattr(charging, "attempt_soon", lambda txn_id: None)
    invoices = _backlog(stripe_server, 5)
    twin = _second_open_charge(invoices[0])
    started = timezone.now()

    report = services.transactions_process_due(now=started, concurrency=20)  # one batch of all six

    assert report.results == {"done": 5, "waiting": 1}
    assert _charged_invoices() == sorted(i.pk for i in invoices)
    twin = Transaction.objects.get(pk=twin.pk)
    assert twin.status == "init" and not twin.attempts.exists()
    assert twin.next_attempt_at == started + timedelta(minutes=1)
    # A minute later the twin finds the invoice paid and is canceled without a call.
    services.transactions_process_due(now=started + timedelta(minutes=2), concurrency=20)
    assert Transaction.objects.get(pk=twin.pk).status == "canceled"
    assert _charged_invoices() == sorted(i.pk for i in invoices)


def test_a_transaction_that_cannot_be_claimed_holds_up_only_itself(stripe_server, monkeypatch):
    monkeypatch.setattr(charging, "attempt_soon", lambda txn_id: None)
    invoices = _backlog(stripe_server, 6)
    bad = Transaction.objects.get(invoice=invoices[2])
    claim_decide = charging._claim_decide

    def broken(txn, *args):
        if txn.pk == bad.pk:
            raise RuntimeError("this row cannot be read")
        return claim_decide(txn, *args)

    monkeypatch.setattr(charging, "_claim_decide", broken)
    report = services.transactions_process_due(concurrency=20)

    assert report.results == {"done": 5, "error": 1}
    assert Invoice.objects.get(pk=invoices[2].pk).status == "processing"
    assert not bad.attempts.exists()
    assert _charged_invoices() == sorted(i.pk for i in invoices if i != invoices[2])
    # Once it can be read again, the next run charges it.
    monkeypatch.setattr(charging, "_claim_decide", claim_decide)
    assert services.transactions_process_due(concurrency=20).results == {"done": 1}
    assert set(Invoice.objects.values_list("status", flat=True)) == {"settled"}
    assert _charged_invoices() == sorted(i.pk for i in invoices)
