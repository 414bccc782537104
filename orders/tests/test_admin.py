from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts.tests.factories import StaffFactory
from orders.models import Order, OrderSettings

from .factories import OrderFactory

S = Order.Status
pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def staff(client):
    user = StaffFactory()
    client.force_login(user)
    return user


def _action(client, name, orders, **extra):
    data = {"action": name, ACTION_CHECKBOX_NAME: [o.pk for o in orders], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_an_admin_action_asks_for_a_reason_then_acts_on_behalf_and_logs_the_admin(client, staff):
    order = OrderFactory(paid=True)
    name = "action_order_mark_delivered_seller"
    page = _action(client, name, [order])
    assert b"The reason goes on each order" in page.content
    assert Order.objects.get(pk=order.pk).status == S.PAID
    _action(client, name, [order], apply="1", reason="Seller emailed a photo of the delivery")
    assert Order.objects.get(pk=order.pk).status == S.PENDING_CUSTOMER_CONFIRMATION
    log = StateLog.objects.for_(order).latest()
    assert log.by == staff and "on behalf of the seller: Seller emailed a photo" in log.description


def test_an_admin_action_without_a_reason_changes_nothing(client, staff):
    order = OrderFactory(paid=True)
    response = _action(client, "action_order_mark_delivered_seller", [order], apply="1", reason=" ")
    assert b"Give a reason" in response.content
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_an_action_checks_every_order_first_and_changes_none_when_one_cannot_take_it(client, staff):
    ok, done = OrderFactory(paid=True), OrderFactory(completed=True)
    response = _action(client, "action_order_mark_delivered_seller", [ok, done], apply="1", reason="ops")
    text = response.content.decode()
    assert f"{done}: This order is completed, so it cannot be marked as delivered now." in text
    assert "Nothing was changed: fix or unselect the rows above and try again." in text
    assert "done for" not in text
    assert Order.objects.get(pk=ok.pk).status == "paid"

    response = _action(client, "action_order_mark_delivered_seller", [ok], apply="1", reason="ops")
    assert "done for 1 order." in response.content.decode()
    assert Order.objects.get(pk=ok.pk).status == "pending_customer_confirmation"


@pytest.mark.parametrize("days", ["999999", "-1", "3651", "x", "9" * 5000])
def test_waiting_longer_than_a_nonsense_number_of_days_says_so(client, staff, days):
    OrderFactory(awaiting_seller=True, status_changed_at=timezone.now() - timedelta(days=8))
    response = client.get(CHANGELIST, {"waiting_days": days})
    assert response.status_code == 200
    assert "takes a number of days from 0 to 3650" in response.content.decode()
    assert list(response.context["cl"].result_list) == []


def test_an_action_checks_the_orders_before_asking_for_a_reason(client, staff):
    completed = OrderFactory(completed=True)
    response = _action(client, "action_order_mark_delivered_seller", [completed])
    text = response.content.decode()
    assert "The reason goes on each order" not in text
    assert f"{completed}: This order is completed, so it cannot be marked as delivered now." in text


def test_marking_shipped_on_the_sellers_behalf_records_the_carrier_and_tracking(client, staff):
    order = OrderFactory(paid=True)
    page = _action(client, "action_order_mark_shipped_seller", [order]).content.decode()
    assert 'name="carrier"' in page and 'name="tracking_number"' in page
    _action(
        client,
        "action_order_mark_shipped_seller",
        [order],
        apply="1",
        reason="Seller phoned",
        carrier="DHL",
        tracking_number="JD0146",
    )
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == (S.SHIPPED, "DHL", "JD0146")
    change = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "tracking-parcel.html?tracking-id=JD0146" in change
    assert "with DHL, tracking number JD0146" in change


def test_the_admin_can_resend_the_current_confirmation_email(
    client, staff, mailoutbox, django_capture_on_commit_callbacks
):
    order = OrderFactory(awaiting_buyer=True)
    with django_capture_on_commit_callbacks(execute=True):
        _action(client, "action_order_confirmation_email_resend_admin", [order])
    assert order.events.filter(kind="email_resent").exists()
    [email] = mailoutbox
    assert email.to == [order.buyer.email] and "I have received the item" in email.body


def test_waiting_longer_than_filter_and_search_by_email_and_id(client, staff):
    old = OrderFactory(awaiting_seller=True, status_changed_at=timezone.now() - timedelta(days=8))
    OrderFactory(awaiting_seller=True)
    OrderFactory(completed=True, status_changed_at=timezone.now() - timedelta(days=30))
    response = client.get(CHANGELIST, {"waiting_days": "7"})
    assert [o.pk for o in response.context["cl"].result_list] == [old.pk]
    response = client.get(CHANGELIST, {"q": old.buyer.email})
    assert [o.pk for o in response.context["cl"].result_list] == [old.pk]
    response = client.get(CHANGELIST, {"q": str(old.pk)})
    assert old.pk in [o.pk for o in response.context["cl"].result_list]
    assert client.get(CHANGELIST, {"q": "not-a-number"}).status_code == 200


def test_the_order_page_shows_a_read_only_status_and_the_timeline(client, staff):
    order = OrderFactory(paid=True)
    from orders import services

    services.order_mark_shipped(order_id=order.pk, by=order.seller)
    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert 'name="status"' not in html
    assert f"{order.seller} shipped the order" in html and "mark_shipped" not in html
    assert 'name="_save"' not in html  # nothing here is edited by hand


def test_order_settings_is_one_record_and_refuses_bad_values(client, staff):
    response = client.get(reverse("admin:orders_ordersettings_changelist"))
    assert response.status_code == 302
    url = reverse("admin:orders_ordersettings_change", args=[1])
    response = client.post(
        url,
        {
            "ship_reminder_days": 3,
            "buyer_reminder_days": 3,
            "seller_reminder_days": 5,
            "auto_confirm_days": 0,
            "link_lifetime_days": 30,
        },
    )
    assert b"Ensure this value is greater than or equal to 1" in response.content
    assert OrderSettings.load().auto_confirm_days is None
    client.post(
        url,
        {
            "ship_reminder_days": 3,
            "buyer_reminder_days": 2,
            "seller_reminder_days": 5,
            "auto_confirm_days": "",
            "link_lifetime_days": 10,
        },
    )
    assert OrderSettings.load().link_lifetime_days == 10
    assert OrderSettings.objects.count() == 1
