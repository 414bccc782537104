"""Paid but not shipped: the seller is reminded once after a few days, and, only when the
Order Settings say so, the order is canceled after K days with a full refund through the
one refund path (over HTTP against the suite's local Stripe server)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.tests.factories import SellerFactory
from billing.models import Invoice, Receipt
from orders import services
from orders.models import Order, OrderEvent, OrderSettings

from .factories import OrderFactory

S = Order.Status
pytestmark = pytest.mark.django_db


def _run(days_later, capture):
    with time_machine.travel(timezone.now() + timedelta(days=days_later)), capture(execute=True):
        return services.order_reminders_send()


def _settings(**values):
    config = OrderSettings.load()
    for name, value in values.items():
        setattr(config, name, value)
    config.save()


def test_the_seller_is_reminded_once_to_ship_a_paid_order(mailoutbox, django_capture_on_commit_callbacks):
    order = OrderFactory(paid=True, paid_at=timezone.now())
    assert _run(2.9, django_capture_on_commit_callbacks).ship_reminders == 0
    assert _run(3.1, django_capture_on_commit_callbacks).ship_reminders == 1
    assert _run(9, django_capture_on_commit_callbacks).ship_reminders == 0
    [email] = mailoutbox
    assert email.to == [order.seller.email]
    assert email.subject == f"Order #{order.pk} is paid and waiting to be shipped"
    assert "canceled" not in email.body  # auto-cancel is off by default
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.SHIP_REMINDED).count() == 1


def test_without_the_setting_a_paid_order_is_never_canceled(django_capture_on_commit_callbacks):
    order = OrderFactory(paid=True, paid_at=timezone.now())
    assert _run(365, django_capture_on_commit_callbacks).canceled_unshipped == 0
    order.refresh_from_db()
    assert order.status == S.PAID


def test_an_order_not_shipped_in_k_days_is_refunded_in_full_then_canceled(billing, mailoutbox):
    _settings(unshipped_cancel_days=7)
    customer = billing.customer(card="4242424242424242")
    with billing.capture(execute=True):
        order = services.order_place(
            buyer=customer.user,
            seller=SellerFactory(),
            currency="USD",
            items=[services.ItemLine("Mug", 2, 1800)],
        )
    assert Order.objects.get(pk=order.pk).status == S.PAID
    reminded = _run(3.1, billing.capture)
    assert reminded.ship_reminders == 1 and "canceled and the buyer refunded in full" in mailoutbox[-1].body

    assert _run(6.9, billing.capture).canceled_unshipped == 0
    assert _run(7.1, billing.capture).canceled_unshipped == 1

    order = Order.objects.get(pk=order.pk)
    invoice = Invoice.objects.get(order=order)
    assert (order.status, order.amount_refunded) == (S.CANCELED, 3600)
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 3600)
    assert Receipt.objects.filter(invoice=invoice, kind="refund", amount=3600).exists()
    to_buyer = [m.subject for m in mailoutbox if m.to == [order.buyer.email]]
    assert f"Order #{order.pk} has been refunded" in to_buyer
    assert any(m.to == [order.seller.email] and "refunded" in m.subject.lower() for m in mailoutbox)
    assert _run(8, billing.capture).canceled_unshipped == 0  # once
