import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_fsm_log.models import StateLog

from accounts.tests.factories import BuyerFactory, SellerFactory
from orders.models import Order

from .factories import OrderFactory

S = Order.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def seller(client):
    seller = SellerFactory()
    client.force_login(seller)
    return seller


def _queries_for(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _shown(response):
    return [o.pk for o in response.context["page"].object_list]


def test_my_orders_lists_newest_first_and_pages_older_and_back_newer(client, seller):
    orders = [OrderFactory(seller=seller) for _ in range(30)]
    newest_first = [o.pk for o in reversed(orders)]
    url = reverse("orders:seller_orders")
    first = client.get(url)
    assert _shown(first) == newest_first[:25]
    assert first.context["page"].newer is None
    older = first.context["page"].older
    assert f"older_than={older}" in first.content.decode()
    second = client.get(url, {"older_than": older})
    assert _shown(second) == newest_first[25:]
    assert second.context["page"].older is None
    back = client.get(url, {"newer_than": second.context["page"].newer})
    assert _shown(back) == newest_first[:25]
    assert back.context["page"].newer is None


def test_orders_placed_at_the_same_instant_are_each_shown_once_across_pages(client, seller):
    from django.utils import timezone

    same = timezone.now()
    orders = [OrderFactory(seller=seller, created_at=same) for _ in range(27)]
    url = reverse("orders:seller_orders")
    first = client.get(url)
    second = client.get(url, {"older_than": first.context["page"].older})
    assert sorted(_shown(first) + _shown(second)) == sorted(o.pk for o in orders)


def test_the_older_link_keeps_the_status_filter(client, seller):
    paid = [OrderFactory(seller=seller, paid=True) for _ in range(26)]
    OrderFactory(seller=seller, completed=True)
    url = reverse("orders:seller_orders")
    first = client.get(url, {"status": "paid"})
    assert f"status=paid&amp;older_than={first.context['page'].older}" in first.content.decode()
    second = client.get(url, {"status": "paid", "older_than": first.context["page"].older})
    assert _shown(second) == [paid[0].pk]


def test_a_broken_page_link_shows_the_newest_orders_and_says_so(client, seller):
    order = OrderFactory(seller=seller)
    for broken in ("yesterday_1", "²_1", "1_²"):
        response = client.get(reverse("orders:seller_orders"), {"older_than": broken})
        assert _shown(response) == [order.pk]
        assert "not one this site made" in response.content.decode()


def test_a_deep_page_costs_the_same_queries_as_the_first(client, seller):
    orders = [OrderFactory(seller=seller) for _ in range(60)]
    url = reverse("orders:seller_orders")
    first = _queries_for(client, url)
    from marketplace.keyset import position_of

    deep = _queries_for(client, f"{url}?older_than={position_of(orders[5])}")
    assert first == deep


def test_my_orders_filters_by_status_and_says_when_a_status_is_unknown(client, seller):
    paid = OrderFactory(seller=seller, paid=True)
    OrderFactory(seller=seller, completed=True)
    response = client.get(reverse("orders:seller_orders"), {"status": "paid"})
    assert [o.pk for o in response.context["page"].object_list] == [paid.pk]
    response = client.get(reverse("orders:seller_orders"), {"status": "lost"}, follow=True)
    assert len(response.context["page"].object_list) == 2
    assert "no such order status" in response.content.decode()


def test_my_orders_makes_the_same_number_of_queries_for_3_or_60_orders(client, seller):
    for _ in range(3):
        OrderFactory(seller=seller)
    few = _queries_for(client, reverse("orders:seller_orders"))
    for _ in range(57):
        OrderFactory(seller=seller)
    many = _queries_for(client, reverse("orders:seller_orders"))
    assert few == many


def test_a_seller_never_sees_another_sellers_order(client, seller):
    theirs = OrderFactory(paid=True)
    assert client.get(reverse("orders:seller_order", args=[theirs.pk])).status_code == 404
    response = client.post(
        reverse("orders:seller_order_action", args=[theirs.pk, "mark-delivered"]), {"expected_status": "paid"}
    )
    assert response.status_code == 404
    assert client.get(reverse("orders:seller_order_refund", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == S.PAID
    assert theirs.pk not in [
        o.pk for o in client.get(reverse("orders:seller_orders")).context["page"].object_list
    ]


def test_a_buyer_is_turned_away_from_seller_pages(client):
    client.force_login(BuyerFactory())
    assert client.get(reverse("orders:seller_orders")).status_code == 403


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        (S.PAID, ["Mark as Shipped", "Mark as Delivered", "Refund…"]),
        (S.SHIPPED, ["Mark as Delivered", "Refund…"]),
        (S.PENDING_SELLER_ACTION, ["Mark as Resolved &amp; Confirm Delivery", "Refund…"]),
        (S.PENDING_CUSTOMER_CONFIRMATION, ["Refund…"]),
        (S.COMPLETED, ["Refund…"]),
        (S.REFUNDED, []),
    ],
)
def test_the_order_page_shows_exactly_the_buttons_allowed_now(client, seller, status, buttons):
    order = OrderFactory(seller=seller, status=status, confirmation_round=1)
    html = client.get(reverse("orders:seller_order", args=[order.pk])).content.decode()
    every = ["Mark as Shipped", "Mark as Delivered", "Mark as Resolved &amp; Confirm Delivery", "Refund…"]
    assert [label for label in every if label in html] == buttons


def test_mark_shipped_with_carrier_and_tracking_shows_on_the_timeline(client, seller):
    order = OrderFactory(seller=seller, paid=True)
    response = client.post(
        reverse("orders:seller_order_action", args=[order.pk, "mark-shipped"]),
        {"expected_status": "paid", "carrier": "DHL", "tracking_number": "JD0123"},
        follow=True,
    )
    assert "Marked as shipped." in response.content.decode()
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == (S.SHIPPED, "DHL", "JD0123")
    timeline = response.context["timeline"]
    assert timeline[-1].title == f"{seller.full_name} shipped the order with DHL, tracking number JD0123"
    assert timeline[-1].who == seller.full_name
    assert "tracking-parcel.html?tracking-id=JD0123" in response.content.decode()  # the carrier's page


def test_a_second_tab_posting_the_same_action_is_told_the_order_changed(client, seller):
    order = OrderFactory(seller=seller, paid=True)
    url = reverse("orders:seller_order_action", args=[order.pk, "mark-delivered"])
    client.post(url, {"expected_status": "paid"})
    response = client.post(url, {"expected_status": "paid"}, follow=True)
    assert "This order changed while you were looking at it: it is now pending customer confirmation" in (
        response.content.decode()
    )
    assert StateLog.objects.for_(order).count() == 1


def test_refund_asks_for_a_reason_and_a_confirmation_first(client, seller):
    order = OrderFactory(seller=seller, completed=True)
    url = reverse("orders:seller_order_refund", args=[order.pk])
    page = client.get(url)
    assert b"Refund order" in page.content
    response = client.post(url, {"expected_status": "completed", "reason": "Damaged"})
    assert "Tick the box to confirm the refund." in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == S.COMPLETED
    client.post(url, {"expected_status": "completed", "reason": "Damaged", "confirm": "on"})
    assert Order.objects.get(pk=order.pk).status == S.REFUNDED


def test_a_forged_expected_status_is_a_clear_error_and_changes_nothing(client, seller):
    order = OrderFactory(seller=seller, paid=True)
    response = client.post(
        reverse("orders:seller_order_action", args=[order.pk, "mark-delivered"]),
        {"expected_status": "bogus"},
        follow=True,
    )
    assert "Select a valid choice" in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_a_signed_in_buyer_confirms_from_their_order_page(client):
    order = OrderFactory(awaiting_buyer=True)
    client.force_login(order.buyer)
    page = client.get(reverse("orders:buyer_order", args=[order.pk])).content.decode()
    assert "I have received the item" in page and "I have NOT received the item" in page
    client.post(
        reverse("orders:buyer_order_action", args=[order.pk, "not-received"]),
        {"expected_status": S.PENDING_CUSTOMER_CONFIRMATION, "message": "Nothing yet"},
    )
    assert Order.objects.get(pk=order.pk).status == S.PENDING_SELLER_ACTION


def test_a_buyer_cannot_see_or_answer_someone_elses_order(client):
    order = OrderFactory(awaiting_buyer=True)
    client.force_login(BuyerFactory())
    assert client.get(reverse("orders:buyer_order", args=[order.pk])).status_code == 404
    response = client.post(
        reverse("orders:buyer_order_action", args=[order.pk, "received"]),
        {"expected_status": S.PENDING_CUSTOMER_CONFIRMATION},
    )
    assert response.status_code == 404
    assert Order.objects.get(pk=order.pk).status == S.PENDING_CUSTOMER_CONFIRMATION


def test_a_buyer_pages_through_their_orders_newest_first(client):
    buyer = BuyerFactory()
    client.force_login(buyer)
    orders = [OrderFactory(buyer=buyer) for _ in range(26)]
    OrderFactory()  # someone else's
    url = reverse("orders:buyer_orders")
    first = client.get(url)
    assert _shown(first) == [o.pk for o in reversed(orders)][:25]
    second = client.get(url, {"older_than": first.context["page"].older})
    assert _shown(second) == [orders[0].pk]
