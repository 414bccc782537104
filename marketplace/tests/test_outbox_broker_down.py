"""A broker that is down or hung delays an email; it never loses it, slows the request
beyond a second or so, or turns a committed change into an error page."""

import socket
import time
from datetime import date, timedelta

import kombu.pools
import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import SellerFactory, StaffFactory
from marketplace.celery import app as celery_app
from orders.models import Order
from orders.tests.factories import OrderFactory
from payouts.models import Payout
from payouts.tests.conftest import Payouts, utc

S = Order.Status
pytestmark = pytest.mark.django_db(transaction=True)


def _reset_celery_connections():
    """Make the next publish connect afresh to the broker URL in force now."""
    celery_app.pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()  # and drop kombu's producer pools, kept per broker URL


@pytest.fixture(params=["closed", "hung"])
def broker_down(request, monkeypatch):
    """Tasks really published (not eager) to a Redis that refuses connections (a closed
    port) or accepts them and never answers (a socket nobody reads)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if request.param == "hung":
        listener.listen(16)
    else:
        listener.close()
    url = f"redis://127.0.0.1:{port}/0"
    saved = {
        name: celery_app.conf[name]
        for name in ("broker_url", "broker_transport_options", "task_always_eager")
    }
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads the variable before its setting
    celery_app.conf.broker_url = url
    # What the settings give a Redis broker (the suite may run on the filesystem one).
    celery_app.conf.broker_transport_options = getattr(
        settings,
        "BROKER_REDIS_TRANSPORT_OPTIONS",
        {"socket_connect_timeout": 3, "socket_timeout": 10},  # before the outbox
    )
    celery_app.conf.task_always_eager = False
    _reset_celery_connections()
    _backoff_reset()
    yield
    celery_app.conf.update(saved)
    _reset_celery_connections()
    _backoff_reset()
    listener.close()


def _backoff_reset():
    try:
        from marketplace.outbox import outbox_broker_backoff_reset
    except ImportError:  # the code before the outbox had no back-off
        return
    outbox_broker_backoff_reset()


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _sweep():
    """The broker is back: beat's every-minute sweep runs, a little later."""
    from marketplace.tasks import outbox_sweep

    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        return outbox_sweep.apply().get()


def test_with_the_broker_down_actions_answer_fast_commit_and_their_emails_go_out_once_later(
    client, broker_down
):
    # A seller marks an order delivered: the buyer is to get round 1's confirmation email.
    seller = SellerFactory()
    delivered = OrderFactory(seller=seller, shipped=True)
    client.force_login(seller)
    response, seconds = _timed(
        lambda: client.post(
            reverse("orders:seller_order_action", args=[delivered.pk, "mark-delivered"]),
            {"expected_status": S.SHIPPED},
        )
    )
    assert response.status_code == 302 and seconds < 2
    assert Order.objects.get(pk=delivered.pk).status == S.PENDING_CUSTOMER_CONFIRMATION

    # A buyer reports the parcel missing: the seller is to be told.
    missing = OrderFactory(awaiting_buyer=True)
    client.force_login(missing.buyer)
    response, seconds = _timed(
        lambda: client.post(
            reverse("orders:buyer_order_action", args=[missing.pk, "not-received"]),
            {"expected_status": S.PENDING_CUSTOMER_CONFIRMATION, "message": "Tracking says delivered"},
        )
    )
    assert response.status_code == 302 and seconds < 2
    assert Order.objects.get(pk=missing.pk).status == S.PENDING_SELLER_ACTION

    # An admin marks a payout paid: the seller is to hear that the money is on its way.
    payouts = Payouts()
    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    client.force_login(StaffFactory())
    response, seconds = _timed(
        lambda: client.post(
            "/admin/payouts/payout/",
            {"action": "mark_paid", "_selected_action": [payout.pk], "apply": "1", "reason": "BANK-7"},
        )
    )
    assert response.status_code == 302 and seconds < 2
    assert Payout.objects.get(pk=payout.pk).status == Payout.Status.PAID

    assert mail.outbox == []
    _sweep()
    sent = [(m.to, m.subject) for m in mail.outbox]
    assert [to for to, subject in sent if f"Did your order #{delivered.pk} arrive" in subject] == [
        [delivered.buyer.email]
    ], sent
    assert (
        sum(m.to == [missing.seller.email] and "Tracking says delivered" in m.body for m in mail.outbox) == 1
    )
    assert sum(m.to == [payout.seller.email] and "on its way" in m.subject for m in mail.outbox) == 1
    count = len(mail.outbox)
    _sweep()
    assert len(mail.outbox) == count
