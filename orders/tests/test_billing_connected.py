"""Orders pay, get canceled and get refunded through their invoices."""

from datetime import timedelta

import pytest

from accounts.tests.factories import SellerFactory
from billing import services
from billing.models import Invoice, Transaction
from orders import services as orders
from orders.models import Order

pytestmark = pytest.mark.django_db


def _place(billing, buyer_card):
    customer = billing.customer(card=buyer_card)
    with billing.capture(execute=True):
        order = orders.order_place(
            buyer=customer.user,
            seller=SellerFactory(),
            currency="USD",
            items=[orders.ItemLine("Mug", 2, 1800)],
        )
    return Order.objects.get(pk=order.pk)


def test_placing_an_order_charges_its_invoice_and_the_order_becomes_paid(billing, mailoutbox):
    order = _place(billing, "4242424242424242")
    invoice = Invoice.objects.get(order=order)
    assert order.status == "paid"
    assert (invoice.status, invoice.total_amount) == ("settled", 3600)
    assert [(line.description, line.amount) for line in invoice.lines.all()] == [("Mug", 3600)]
    assert any(order.seller.email in m.to for m in mailoutbox)  # "new paid order"


def test_an_order_whose_payment_fails_for_good_is_canceled_after_the_grace_period(billing, mailoutbox):
    order = _place(billing, "4000000000009987")  # lost card: fails at once
    invoice = Invoice.objects.get(order=order)
    assert order.status == "pending_payment" and invoice.status == "process_failed"

    billing.run(now=invoice.grace_ends_at - timedelta(minutes=1))
    assert Order.objects.get(pk=order.pk).status == "pending_payment"
    billing.run(now=invoice.grace_ends_at)

    assert Order.objects.get(pk=order.pk).status == "canceled"
    assert Invoice.objects.get(pk=invoice.pk).status == "canceled"
    assert mailoutbox[-1].subject == f"Order #{order.pk} has been canceled"
    assert order.buyer.email in mailoutbox[-1].to


def test_refunding_an_order_refunds_its_invoice(billing):
    order = _place(billing, "4242424242424242")
    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="Broken in transit")
    invoice = Invoice.objects.get(order=order)
    assert Order.objects.get(pk=order.pk).status == "refunded"
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 3600)


def test_a_refund_is_retried_while_stripe_is_down_until_it_goes_through(billing, settings):
    order = _place(billing, "4242424242424242")
    settings.STRIPE_TRANSPORT_RETRIES = 0
    billing.server.fail_next(4, status=502, path="/v1/refunds")
    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="Broken in transit")
    invoice = Invoice.objects.get(order=order)
    refund = Transaction.objects.get(kind="refund")
    assert invoice.status == "refunding" and refund.status == "init"

    for _ in range(4):
        refund = Transaction.objects.get(pk=refund.pk)
        billing.run(now=refund.next_attempt_at)

    refund = Transaction.objects.get(pk=refund.pk)
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (
        refund.status == "done" and refund.attempts.count() == 1 and refund.attempts.get().calls == 5
    )  # 4 failed, 1 answered
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 3600)


def test_a_buyer_canceling_an_unpaid_order_cancels_its_invoice(billing):
    order = _place(billing, "4000000000009995")  # soft decline: in dunning
    orders.order_cancel(order_id=order.pk, by=order.buyer)
    invoice = Invoice.objects.get(order=order)
    assert invoice.status == "canceled"
    assert not Transaction.objects.filter(invoice=invoice, status__in=Transaction.OPEN_STATUSES).exists()


def test_an_order_cannot_be_canceled_while_a_charge_answer_is_outstanding(billing, settings):
    settings.STRIPE_TRANSPORT_RETRIES = 0
    customer = billing.customer(card="4242424242424242")
    billing.server.fail_next(1, status=503, path="/v1/payment_intents")
    with billing.capture(execute=True):
        order = orders.order_place(
            buyer=customer.user,
            seller=SellerFactory(),
            currency="USD",
            items=[orders.ItemLine("Mug", 1, 100)],
        )
    with pytest.raises(services.ApplicationError, match="still waiting for the payment service"):
        orders.order_cancel(order_id=order.pk, by=order.buyer)
    assert Order.objects.get(pk=order.pk).status == "pending_payment"  # the cancel rolled back
