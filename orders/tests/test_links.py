"""The links in the buyer's email: only a POST acts, and every bad link changes nothing."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.links import NOT_RECEIVED, RECEIVED, confirmation_token, confirmation_url
from orders.models import Order, OrderSettings

from .factories import OrderFactory

S = Order.Status
pytestmark = pytest.mark.django_db


def _path(order, answer):
    return reverse(
        "orders:confirmation_link", args=[order.pk, confirmation_token(order=order, answer=answer)]
    )


@pytest.fixture
def order():
    return OrderFactory(awaiting_buyer=True)


def _status(order):
    order.refresh_from_db()
    return order.status


def test_the_link_in_the_email_is_absolute_and_points_at_the_site(settings, order):
    settings.SITE_URL = "https://shop.example"
    assert confirmation_url(order=order, answer=RECEIVED).startswith(
        f"https://shop.example/confirm/{order.pk}/"
    )


@pytest.mark.parametrize("answer", [RECEIVED, NOT_RECEIVED])
def test_a_mail_scanner_opening_the_link_with_get_or_head_changes_nothing(client, order, answer):
    response = client.get(_path(order, answer))
    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    assert client.head(_path(order, answer)).status_code == 200
    assert _status(order) == S.PENDING_CUSTOMER_CONFIRMATION


def test_the_link_page_is_never_kept_by_a_browser_or_proxy(client, order):
    for response in (client.get(_path(order, RECEIVED)), client.get(f"/confirm/{order.pk}/tampered/")):
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_posting_the_received_link_completes_the_order_as_the_buyer(client, order):
    response = client.post(_path(order, RECEIVED))
    assert response.status_code == 200
    assert b"the order is completed" in response.content
    order.refresh_from_db()
    assert order.status == S.COMPLETED and order.completed_at is not None


def test_posting_the_not_received_link_with_a_message_tells_the_seller(
    client, order, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_path(order, NOT_RECEIVED), {"message": "Porch was empty"})
    assert response.status_code == 200
    assert _status(order) == S.PENDING_SELLER_ACTION
    assert any("Porch was empty" in m.body and m.to == [order.seller.email] for m in mailoutbox)


def test_a_message_that_is_too_long_is_refused_on_the_page_and_changes_nothing(client, order):
    response = client.post(_path(order, NOT_RECEIVED), {"message": "x" * 1001})
    assert response.status_code == 400
    assert b"at most 1000 characters" in response.content
    assert _status(order) == S.PENDING_CUSTOMER_CONFIRMATION


def test_a_used_link_shows_the_current_state_and_changes_nothing(client, order):
    received, not_received = _path(order, RECEIVED), _path(order, NOT_RECEIVED)
    client.post(received)
    again = client.post(received)
    assert again.status_code == 409
    assert b"already been answered" in again.content and b"completed" in again.content
    twin = client.post(not_received)
    assert twin.status_code == 409
    assert _status(order) == S.COMPLETED


def test_a_link_from_an_earlier_round_is_refused_even_while_the_order_waits_again(client, order):
    first_round_link = _path(order, RECEIVED)
    services.order_report_not_received(order_id=order.pk, by=order.buyer)
    services.order_resolve_and_confirm_delivery(order_id=order.pk, by=order.seller)
    for method in (client.get, client.post):
        response = method(first_round_link)
        assert response.status_code == 410
        assert b"This link is from an earlier email" in response.content
    assert _status(order) == S.PENDING_CUSTOMER_CONFIRMATION
    assert client.post(_path(Order.objects.get(pk=order.pk), RECEIVED)).status_code == 200
    assert _status(order) == S.COMPLETED


def test_an_expired_link_is_refused_and_the_lifetime_is_the_admin_setting(client, order):
    path = _path(order, RECEIVED)
    settings_row = OrderSettings.load()
    settings_row.link_lifetime_days = 2
    settings_row.save()
    with time_machine.travel(timezone.now() + timedelta(days=2, minutes=1)):
        response = client.post(path)
    assert response.status_code == 410
    assert b"This link has expired" in response.content
    assert _status(order) == S.PENDING_CUSTOMER_CONFIRMATION
    with time_machine.travel(timezone.now() + timedelta(days=1, hours=23)):
        assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: token.replace(token.split(":")[0], token.split(":")[0][::-1]),  # payload changed
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_link_is_refused_and_changes_nothing(client, order, tamper):
    token = tamper(confirmation_token(order=order, answer=RECEIVED))
    response = client.post(reverse("orders:confirmation_link", args=[order.pk, token]))
    assert response.status_code == 400
    assert b"This link is not valid" in response.content
    assert _status(order) == S.PENDING_CUSTOMER_CONFIRMATION


def test_another_orders_token_does_not_act_on_this_order(client, order):
    other = OrderFactory(awaiting_buyer=True, buyer=order.buyer)
    token = confirmation_token(order=other, answer=RECEIVED)
    response = client.post(reverse("orders:confirmation_link", args=[order.pk, token]))
    assert response.status_code == 400
    assert _status(order) == S.PENDING_CUSTOMER_CONFIRMATION
    assert _status(other) == S.PENDING_CUSTOMER_CONFIRMATION


def test_a_token_signed_with_another_key_is_refused(client, order, settings):
    settings.SECRET_KEY = "someone-elses-key-" + "x" * 40
    token = confirmation_token(order=order, answer=RECEIVED)
    settings.SECRET_KEY = "the-real-key-" + "y" * 40
    response = client.post(reverse("orders:confirmation_link", args=[order.pk, token]))
    assert response.status_code == 400
    assert _status(order) == S.PENDING_CUSTOMER_CONFIRMATION


def test_the_received_link_still_works_after_the_buyer_reported_the_item_missing(client, order):
    received, not_received = _path(order, RECEIVED), _path(order, NOT_RECEIVED)
    client.post(not_received, {"message": "Nothing came"})
    assert _status(order) == S.PENDING_SELLER_ACTION
    assert client.post(not_received).status_code == 409  # reporting twice changes nothing
    page = client.get(received)
    assert b"If it has arrived after all, confirm it here" in page.content
    assert client.post(received).status_code == 200
    assert _status(order) == S.COMPLETED
