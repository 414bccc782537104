"""The seller's refund form: it says how much can still be refunded and in which
currency, takes an amount for a partial refund, refuses more than what is left or more
decimals than the currency has with a message next to the field (and changes nothing),
and after a partial refund the order page says what was refunded and what is left."""

import re

import pytest
from django.urls import reverse

from accounts.tests.factories import SellerFactory
from orders.models import Order

from .factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller(client):
    user = SellerFactory()
    client.force_login(user)
    return user


def _post(client, order, amount, **extra):
    return client.post(
        reverse("orders:seller_order_refund", args=[order.pk]),
        {"expected_status": order.status, "reason": "Chipped rim", "confirm": "on", "amount": amount, **extra},
    )


def _described_by(html: str, field: str) -> list[str]:
    tag = re.search(rf'<(?:input|textarea)[^>]*name="{field}"[^>]*>', html).group(0)
    found = re.search(r'aria-describedby="([^"]*)"', tag)
    return found.group(1).split() if found else []


def _text_of(html: str, element_id: str) -> str:
    found = re.search(rf'<[a-z]+[^>]*\bid="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, f"no element with id {element_id}"
    return found.group(1)


def test_the_form_shows_what_can_still_be_refunded_and_the_currency(client, seller):
    order = OrderFactory(seller=seller, completed=True, total_amount=2500)
    html = client.get(reverse("orders:seller_order_refund", args=[order.pk])).content.decode()
    assert "Can still be refunded" in html and "$25.00</strong> (USD)" in html
    assert "Amount to refund, in USD" in html
    ids = _described_by(html, "amount")
    assert ids == ["id_amount_helptext"]
    assert "$25.00 (USD) can still be refunded" in _text_of(html, "id_amount_helptext")
    for field in ("amount", "reason"):
        for element_id in _described_by(html, field):
            _text_of(html, element_id)  # every id it points at exists


def test_a_currency_written_by_its_code_is_not_named_twice(client, seller):
    order = OrderFactory(seller=seller, completed=True, total_amount=12345, currency="KWD")
    html = client.get(reverse("orders:seller_order_refund", args=[order.pk])).content.decode()
    assert "12.345 KWD can still be refunded" in _text_of(html, "id_amount_helptext")
    assert "(KWD)" not in html


@pytest.mark.parametrize(
    "typed, message",
    [
        ("25.01", "At most $25.00 can still be refunded; $25.01 is more than that."),
        ("10.005", "USD amounts have at most 2 decimals, like 12.50."),
        ("ten", "“ten” is not an amount. Write it like 12.50."),
        ("0", "The amount must be more than zero, like 12.50."),
    ],
)
def test_a_wrong_amount_is_refused_next_to_the_field_and_changes_nothing(client, seller, typed, message):
    order = OrderFactory(seller=seller, completed=True, total_amount=2500)
    response = _post(client, order, typed)
    assert response.status_code == 200
    html = response.content.decode()
    assert _text_of(html, "id_amount_error") == message
    assert _described_by(html, "amount") == ["id_amount_helptext", "id_amount_error"]
    assert 'aria-invalid="true"' in re.search(r'<input[^>]*name="amount"[^>]*>', html).group(0)
    assert f'value="{typed}"' in html  # what they typed stays, to correct it
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.COMPLETED, 0)


def test_a_currency_without_decimals_says_so(client, seller):
    order = OrderFactory(seller=seller, completed=True, total_amount=2500, currency="JPY")
    html = _post(client, order, "10.5").content.decode()
    assert _text_of(html, "id_amount_error") == "JPY amounts have no decimals: write a whole number, like 1250."
    assert Order.objects.get(pk=order.pk).amount_refunded == 0


def test_after_a_partial_refund_the_order_page_shows_what_was_refunded_and_what_is_left(client, seller):
    order = OrderFactory(seller=seller, completed=True, total_amount=2500)
    response = _post(client, order, "10.00")
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.COMPLETED, 1000)
    page = client.get(reverse("orders:seller_order", args=[order.pk])).content.decode()
    assert "Refund of $10.00 sent (part of the order)." in page
    assert re.search(r'data-testid="amount-refunded">\$10\.00 of \$25\.00<', page)
    assert re.search(r'data-testid="refund-left">\$15\.00<', page)
    # The form now offers what is left, and the rest refunds the order in full.
    html = client.get(reverse("orders:seller_order_refund", args=[order.pk])).content.decode()
    assert "Refunded so far" in html and "$15.00 (USD) can still be refunded" in html
    assert _post(client, order, "15.01").status_code == 200
    assert _post(client, order, "").status_code == 302
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.REFUNDED, 2500)


@pytest.mark.parametrize("typed", ["12,50", "0,5", "1,2345.00", "12,5"])
def test_a_comma_that_is_not_a_thousands_separator_is_refused_not_read_as_a_bigger_amount(
    client, seller, typed
):
    # "12,50" is €12.50 to many sellers; read without its comma it would refund €1,250.00.
    order = OrderFactory(seller=seller, completed=True, total_amount=500000, currency="EUR")
    response = _post(client, order, typed)
    assert response.status_code == 200
    message = _text_of(response.content.decode(), "id_amount_error")
    assert message == f"“{typed}” is not an amount. Write it like 12.50."
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.COMPLETED, 0)


def test_thousands_separators_are_read(client, seller):
    order = OrderFactory(seller=seller, completed=True, total_amount=500000, currency="EUR")
    assert _post(client, order, "1,250.00").status_code == 302
    order.refresh_from_db()
    assert order.amount_refunded == 125000
