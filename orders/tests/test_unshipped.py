"""Paid but not shipped: the seller is reminded once after a few days, and, only when the
Order Settings say so, the order is canceled after K days with a full refund through the
one refund path (over HTTP against the suite's local Stripe server)."""

from datetime import timedelta

import pytest
import stripe
import time_machine
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import SellerFactory
from billing.models import Invoice, Receipt, Transaction
from marketplace.exceptions import ApplicationError
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
    # Both are told the order is canceled, not only refunded: the seller must not ship it.
    [to_buyer] = [m for m in mailoutbox if m.subject.startswith(f"Order #{order.pk} has been")]
    assert to_buyer.subject == f"Order #{order.pk} has been canceled and refunded"
    assert "has been canceled: not shipped within 7 days of payment" in to_buyer.body
    assert "Your payment of $36.00 has been refunded in full" in to_buyer.body
    [to_seller] = [m for m in mailoutbox if m.to == [order.seller.email] and "canceled" in m.subject]
    assert to_seller.subject == f"Order #{order.pk} was canceled: not shipped in time"
    assert "Stripe has refunded the buyer's $36.00" in to_seller.body and "Do not ship it." in to_seller.body
    # It was never completed: there is no earning, so none is said to be reduced.
    assert not [m for m in mailoutbox if m.to == [order.seller.email] and "earning for it is reduced" in m.body]
    assert _run(8, billing.capture).canceled_unshipped == 0  # once


def _place(billing, *, unit_amount=1800):
    customer = billing.customer(card="4242424242424242")
    with billing.capture(execute=True):
        order = services.order_place(
            buyer=customer.user,
            seller=SellerFactory(),
            currency="USD",
            items=[services.ItemLine("Mug", 2, unit_amount)],
        )
    order = Order.objects.get(pk=order.pk)
    assert order.status == S.PAID
    return order


def test_while_the_refund_is_on_its_way_nobody_can_ship_deliver_or_refund_the_order(billing, client):
    _settings(unshipped_cancel_days=7)
    order = _place(billing)
    later = timezone.now() + timedelta(days=7.1)
    with time_machine.travel(later), billing.capture(execute=False) as stripe_answers:  # not yet
        assert services.order_reminders_send().canceled_unshipped == 1
    assert Order.objects.get(pk=order.pk).status == S.PAID

    for act in (services.order_mark_shipped, services.order_mark_delivered):
        with pytest.raises(ApplicationError, match="it is being canceled and the buyer refunded in full"):
            act(order_id=order.pk, by=order.seller)
    with pytest.raises(ApplicationError, match="being canceled"):
        services.order_refund(order_id=order.pk, by=order.seller, reason="Changed my mind")
    client.force_login(order.seller)
    url = reverse("orders:seller_order", args=[order.pk])
    client.post(
        reverse("orders:seller_order_action", args=[order.pk, "mark-shipped"]), {"expected_status": "paid"}
    )
    page = client.get(url).content.decode()
    assert "Being canceled and refunded" in page and "Do not ship it" in page
    assert "Mark as Shipped" not in page and "Mark as Delivered" not in page and "Refund…" not in page
    assert Order.objects.get(pk=order.pk).status == S.PAID
    listed = client.get(reverse("orders:seller_orders")).content.decode()
    assert "being canceled and refunded: do not ship" in listed
    client.force_login(order.buyer)
    page = client.get(reverse("orders:buyer_order", args=[order.pk])).content.decode()
    assert "Being canceled: your refund is on its way" in page
    listed = client.get(reverse("orders:buyer_orders")).content.decode()
    assert "being canceled: your refund is on its way" in listed

    with time_machine.travel(later + timedelta(minutes=1)), billing.capture(execute=True):
        for answer in stripe_answers:  # the refund goes to Stripe, which refunds it
            answer()
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == (S.CANCELED, 3600)


def test_a_refund_stripe_refuses_leaves_the_order_shippable_and_tells_staff_and_the_seller_the_truth(
    billing, client, admin_client, mailoutbox
):
    _settings(unshipped_cancel_days=7)
    order = _place(billing)
    # Refunded in the Stripe Dashboard already (its webhook never came): Stripe refuses.
    payment_intent = Transaction.objects.get(invoice__order=order, kind="charge").stripe_id
    stripe.Refund.create(payment_intent=payment_intent, api_key=django_settings.STRIPE_SECRET_KEY)
    sent = len(mailoutbox)
    assert _run(7.1, billing.capture).canceled_unshipped == 1

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == (S.PAID, 0)
    new = mailoutbox[sent:]
    assert not [m for m in new if m.to == [order.buyer.email]]  # the buyer is told nothing
    [told] = [m for m in new if m.subject == f"Order #{order.pk} was not canceled: Stripe refused the refund"]
    assert told.to == [order.seller.email] and "still paid and waiting for you to ship it" in told.body
    assert "try again from the order's page" not in told.body  # the seller never asked for it

    listing = admin_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "1 order not shipped in time could not be canceled: Stripe refused" in listing
    refused = admin_client.get(
        reverse("admin:orders_order_changelist"), {"needs_staff": "unshipped_refund_refused"}
    )
    assert [o.pk for o in refused.context["cl"].result_list] == [order.pk]

    client.force_login(order.seller)
    page = client.get(reverse("orders:seller_order", args=[order.pk])).content.decode()
    assert "the cancellation did not go through" in page and "Mark as Shipped" in page
    assert _run(8, billing.capture).canceled_unshipped == 0  # not asked again
    services.order_mark_shipped(order_id=order.pk, by=order.seller)
    assert Order.objects.get(pk=order.pk).status == S.SHIPPED


def test_an_order_that_cost_nothing_is_canceled_without_asking_stripe_for_a_refund(billing, mailoutbox):
    _settings(unshipped_cancel_days=7)
    order = _place(billing, unit_amount=0)
    assert _run(7.1, billing.capture).canceled_unshipped == 1
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == (S.CANCELED, 0)
    assert not Transaction.objects.filter(invoice__order=order, kind="refund").exists()
    subjects = {m.subject: m for m in mailoutbox}
    assert "Nothing was charged for it" in subjects[f"Order #{order.pk} has been canceled"].body
    assert f"Order #{order.pk} was canceled: not shipped in time" in subjects


@pytest.mark.parametrize("typed", ["0", ""])
def test_zero_or_empty_days_means_never_cancel_and_the_settings_page_says_so(admin_client, typed):
    url = reverse("admin:orders_ordersettings_change", args=[OrderSettings.load().pk])
    assert "Leave empty or enter 0" in admin_client.get(url).content.decode()
    values = {
        "ship_reminder_days": 3,
        "buyer_reminder_days": 3,
        "seller_reminder_days": 5,
        "unshipped_cancel_days": typed,
        "auto_confirm_days": "",
        "link_lifetime_days": 30,
    }
    assert admin_client.post(url, values).status_code == 302
    order = OrderFactory(paid=True, paid_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(days=365)):
        assert services.order_reminders_send().canceled_unshipped == 0
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_after_a_partial_refund_the_timeout_refunds_the_rest_and_says_so(billing, mailoutbox):
    _settings(unshipped_cancel_days=7)
    order = _place(billing)
    with billing.capture(execute=True):
        services.order_refund(order_id=order.pk, by=order.seller, reason="One mug chipped", amount=1000)
    assert _run(7.1, billing.capture).canceled_unshipped == 1
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == (S.CANCELED, 3600)
    [to_buyer] = [m for m in mailoutbox if m.subject == f"Order #{order.pk} has been canceled and refunded"]
    assert "The rest of your payment, $26.00, has been refunded ($36.00 of $36.00 in all)." in to_buyer.body
    [to_seller] = [m for m in mailoutbox if m.subject == f"Order #{order.pk} was canceled: not shipped in time"]
    assert "Stripe has refunded the buyer's $26.00 ($36.00 of $36.00 in all)." in to_seller.body


def test_a_late_order_the_timeout_cannot_cancel_yet_is_said_in_the_log(billing, caplog):
    # The seller's own refund is on its way at Stripe: the timeout cannot ask for another
    # one now, leaves the order as it is, tries again on its next run, and says why.
    _settings(unshipped_cancel_days=7)
    order = _place(billing)
    with billing.capture(execute=False):
        services.order_refund(order_id=order.pk, by=order.seller, reason="Out of stock", amount=1000)
    with time_machine.travel(timezone.now() + timedelta(days=7.1)), billing.capture(execute=False):
        assert services.order_reminders_send().canceled_unshipped == 0
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.being_canceled_unshipped) == (S.PAID, False)
    assert not OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.NOT_SHIPPED_IN_TIME).exists()
    [logged] = [r for r in caplog.records if r.name == "orders.services" and f"#{order.pk}" in r.getMessage()]
    assert "not shipped in time, could not be canceled on this run" in logged.getMessage()
    assert "refunding" in logged.getMessage()
