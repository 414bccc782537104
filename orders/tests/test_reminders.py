from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from orders import services
from orders.models import Order, OrderEvent, OrderSettings

from .factories import OrderFactory

S = Order.Status
pytestmark = pytest.mark.django_db


def _run(days_later, capture):
    with time_machine.travel(timezone.now() + timedelta(days=days_later)), capture(execute=True):
        return services.order_reminders_send()


def test_the_buyer_is_reminded_once_after_r_days_and_again_only_in_a_new_round(
    mailoutbox, django_capture_on_commit_callbacks
):
    order = OrderFactory(awaiting_buyer=True)
    assert _run(2.9, django_capture_on_commit_callbacks).buyer_reminders == 0
    assert _run(3.1, django_capture_on_commit_callbacks).buyer_reminders == 1
    assert _run(6, django_capture_on_commit_callbacks).buyer_reminders == 0
    [email] = mailoutbox
    assert email.to == [order.buyer.email] and "Reminder" in email.subject
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.BUYER_REMINDED).count() == 1

    services.order_report_not_received(order_id=order.pk, by=order.buyer)
    services.order_resolve_and_confirm_delivery(order_id=order.pk, by=order.seller)
    assert _run(3.1, django_capture_on_commit_callbacks).buyer_reminders == 1


def test_the_seller_is_reminded_once_after_s_days_in_pending_seller_action(
    mailoutbox, django_capture_on_commit_callbacks
):
    order = OrderFactory(awaiting_seller=True)
    assert _run(4.9, django_capture_on_commit_callbacks).seller_reminders == 0
    assert _run(5.1, django_capture_on_commit_callbacks).seller_reminders == 1
    assert _run(9, django_capture_on_commit_callbacks).seller_reminders == 0
    assert [m.to for m in mailoutbox] == [[order.seller.email]]


def test_the_reminder_delays_come_from_the_admin_settings(django_capture_on_commit_callbacks):
    config = OrderSettings.load()
    config.buyer_reminder_days = 1
    config.save()
    OrderFactory(awaiting_buyer=True)
    assert _run(1.1, django_capture_on_commit_callbacks).buyer_reminders == 1


def test_auto_confirm_is_off_by_default_so_only_the_buyer_completes_an_order(
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(awaiting_buyer=True)
    assert _run(365, django_capture_on_commit_callbacks).auto_confirmed == 0
    order.refresh_from_db()
    assert order.status == S.PENDING_CUSTOMER_CONFIRMATION


def test_auto_confirm_after_k_days_when_an_admin_switches_it_on(django_capture_on_commit_callbacks):
    config = OrderSettings.load()
    config.auto_confirm_days = 14
    config.save()
    order = OrderFactory(awaiting_buyer=True)
    assert _run(13, django_capture_on_commit_callbacks).auto_confirmed == 0
    assert _run(14.1, django_capture_on_commit_callbacks).auto_confirmed == 1
    order.refresh_from_db()
    assert order.status == S.COMPLETED and order.completed_at is not None
