"""
Staff or a buyer acting on an order while the worker records what happened to its
invoice: each pair takes the order's and the invoice's locks, and must end in exactly one
outcome, never a deadlock (marketplace/locking.py). Real threads on PostgreSQL, each on
its own connection; every race runs many times so that both orders of arrival happen.
"""

from datetime import timedelta
from functools import partial

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts.tests.factories import BuyerFactory, SellerFactory, StaffFactory
from billing import gateway
from billing.models import Invoice, PaymentMethod, Transaction
from billing.services import charging, customer_get_or_create, invoices_apply_grace
from marketplace.exceptions import ApplicationError
from marketplace.tests.races import race
from orders import services
from orders.models import Order

S = Order.Status
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 20


@pytest.fixture
def claimed_order(monkeypatch):
    """An order whose charge has been sent to Stripe and whose answer is not recorded
    yet (the attempt is `unknown`), with no Stripe server needed."""
    monkeypatch.setattr(charging, "attempt_soon", lambda txn_id: None)  # the test sends nothing
    seller = SellerFactory()

    def make():
        buyer = BuyerFactory()
        customer = customer_get_or_create(user=buyer)
        card = PaymentMethod.objects.create(
            customer=customer, stripe_id=f"pm_{buyer.pk}", brand="visa", last4="4242"
        )
        customer.default_payment_method = card
        customer.save()
        order = services.order_place(
            buyer=buyer, seller=seller, currency="USD", items=[services.ItemLine("Lamp", 1, 2500)]
        )
        txn = Transaction.objects.get(invoice__order=order)
        _, attempt = charging.claim(txn.pk, timezone.now())
        return order, attempt

    return make


def _succeeded(attempt):
    return gateway.GatewayResult(ok=True, stripe_id=f"pi_{attempt.pk}", status="succeeded", http_status=200)


def _declined_for_good(attempt):
    error = {"error": {"type": "card_error", "code": "card_declined", "decline_code": "stolen_card"}}
    return gateway.GatewayResult(
        ok=False, stripe_id=f"pi_{attempt.pk}", status="", http_status=402, error=error
    )


def _no_deadlock(results):
    deadlocks = [r for r in results if isinstance(r, OperationalError)]
    assert not deadlocks, deadlocks
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, ApplicationError)]
    assert not unexpected, unexpected


def test_staff_canceling_an_order_while_its_charge_is_recorded_ends_paid_without_deadlock(claimed_order):
    staff = StaffFactory()
    for _ in range(ROUNDS):
        order, attempt = claimed_order()
        canceled, recorded = race(
            partial(services.order_cancel, order_id=order.pk, by=staff, reason="The buyer asked"),
            partial(charging.attempt_record, attempt_id=attempt.pk, result=_succeeded(attempt)),
        )
        _no_deadlock([canceled, recorded])
        # The charge went through at Stripe, so the one outcome is a paid order: the
        # cancel is refused, whichever came first, with a message staff can act on.
        assert recorded == "done"
        assert isinstance(canceled, ApplicationError)
        assert Order.objects.get(pk=order.pk).status == S.PAID
        assert Invoice.objects.get(order=order).status == Invoice.Status.SETTLED
        assert StateLog.objects.for_(order).filter(transition="pay").count() == 1


def test_the_buyer_canceling_while_the_grace_period_ends_cancels_once_without_deadlock(claimed_order):
    for _ in range(ROUNDS):
        order, attempt = claimed_order()
        assert charging.attempt_record(attempt_id=attempt.pk, result=_declined_for_good(attempt)) == "failed"
        invoice = Invoice.objects.get(order=order)
        assert invoice.status == Invoice.Status.PROCESS_FAILED
        later = invoice.grace_ends_at + timedelta(minutes=1)

        by_buyer, by_grace = race(
            partial(services.order_cancel, order_id=order.pk, by=order.buyer),
            partial(invoices_apply_grace, now=later),
        )
        _no_deadlock([by_buyer, by_grace])
        order = Order.objects.get(pk=order.pk)
        assert order.status == S.CANCELED
        assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.CANCELED
        # Exactly one of them canceled the order; the other was told or found nothing to do.
        assert StateLog.objects.for_(order).filter(transition="cancel").count() == 1
        assert isinstance(by_buyer, Order) or isinstance(by_buyer, ApplicationError)
