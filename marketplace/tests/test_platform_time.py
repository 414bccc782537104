"""Dates people read are in the platform timezone (Payout Cycle Settings), not UTC: for a
platform in Auckland, an order completed at 23:30 UTC on 1 March completed on 2 March."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from finance.models import PayoutCycleSettings
from marketplace.emails import email_render
from orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def auckland():
    config = PayoutCycleSettings.load()
    config.timezone = "Pacific/Auckland"
    config.save()


def test_the_seller_order_page_shows_times_in_the_platform_timezone(auckland, client):
    order = OrderFactory(completed=True, completed_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    client.force_login(order.seller)
    html = client.get(reverse("orders:seller_order", args=[order.pk])).content.decode()
    assert "2 Mar 2026, 12:30" in html
    assert "UTC" not in html and "NZDT" not in html


def test_emails_show_dates_in_the_platform_timezone(auckland):
    order = OrderFactory(completed=True, completed_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    order.paid_at = order.completed_at
    rendered = email_render(template_prefix="orders/email/seller_ship_reminder", context={"order": order})
    assert "on 2 Mar 2026" in rendered.text_body


def test_one_date_style_on_pages_the_admin_and_emails(auckland, admin_client):
    """"2 Mar 2026" and "2 Mar 2026, 12:30", in the platform timezone, wherever a person
    reads a date: the seller's pages, the admin's own fields and emails; never "UTC", never
    "Mar 2, 2026" or "March 2, 2026, 12:30 p.m."."""
    order = OrderFactory(completed=True, completed_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    admin_page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "2 Mar 2026, 12:30" in admin_page
    assert "UTC" not in admin_page and "p.m." not in admin_page and "March 2" not in admin_page
    order.paid_at = order.completed_at
    rendered = email_render(template_prefix="orders/email/seller_ship_reminder", context={"order": order})
    assert "2 Mar 2026" in rendered.text_body and "2 Mar 2026" in rendered.html_body
    assert "March" not in rendered.text_body
