"""Admin lists of tables that grow without end: capped counts, indexed searches, filter
choices that need no scan of the table."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import BuyerFactory, SellerFactory, StaffFactory
from billing.models import Invoice
from billing.tests.factories import CustomerFactory
from marketplace.admin_parts import CappedCountPaginator
from orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db
ORDERS = reverse("admin:orders_order_changelist")


@pytest.fixture
def staff(client):
    user = StaffFactory()
    client.force_login(user)
    return user


def _listed(page) -> set[int]:
    return {obj.pk for obj in page.context["cl"].result_list}


def test_past_the_cap_the_list_says_more_than_and_never_counts_the_whole_table(client, staff, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    OrderFactory.create_batch(5)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(ORDERS)
    assert "more than 3 orders" in page.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 4" in sql for sql in counts)

    page = client.get(ORDERS, {"status": "paid"})
    assert "more than" not in page.content.decode()
    assert "0 orders" in page.content.decode()


def test_an_email_fragment_finds_the_orders_of_that_buyer_or_seller_only(client, staff):
    ada = BuyerFactory(email="ada.lovelace@example.com")
    grace = SellerFactory(email="grace@example.com")
    hers = OrderFactory(buyer=ada)
    sold = OrderFactory(seller=grace)
    other = OrderFactory()
    assert _listed(client.get(ORDERS, {"q": "LOVELACE"})) == {hers.pk}
    assert _listed(client.get(ORDERS, {"q": "grace@"})) == {sold.pk}
    assert _listed(client.get(ORDERS, {"q": str(other.pk)})) == {other.pk}
    assert _listed(client.get(ORDERS, {"q": "nobody-like-this"})) == set()


def test_a_search_for_a_digit_that_is_not_a_number_finds_nothing_instead_of_failing(client, staff):
    OrderFactory()
    page = client.get(ORDERS, {"q": "²"})
    assert page.status_code == 200 and _listed(page) == set()


def test_invoice_search_by_order_number_and_transaction_search_by_exact_stripe_id(client, staff):
    order = OrderFactory()
    invoice = Invoice.objects.create(
        customer=CustomerFactory(user=order.buyer), order=order, currency="USD", total_amount=2500
    )
    Invoice.objects.create(customer=CustomerFactory(), currency="USD", total_amount=900)
    found = client.get(reverse("admin:billing_invoice_changelist"), {"q": str(order.pk)})
    assert invoice.pk in _listed(found)
    tx = invoice.transactions.create(kind="charge", amount=2500, currency="USD", stripe_id="pi_3AbC")
    txs = reverse("admin:billing_transaction_changelist")
    assert _listed(client.get(txs, {"q": "pi_3AbC"})) == {tx.pk}
    assert _listed(client.get(txs, {"q": "pi_3"})) == set()


def test_the_currency_filter_offers_the_configured_currencies_without_reading_the_orders(
    client, staff, settings
):
    settings.MARKETPLACE_CURRENCIES = ["USD", "EUR"]
    OrderFactory(currency="USD")
    chf = OrderFactory(currency="CHF")
    with CaptureQueriesContext(connection) as queries:
        page = client.get(ORDERS)
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
    html = page.content.decode()
    assert "?currency=EUR" in html and "?currency=USD" in html and "?currency=CHF" not in html
    # A currency that is not configured still filters, typed into the address.
    assert _listed(client.get(ORDERS, {"currency": "CHF"})) == {chf.pk}


# The product's own apps (the packages' admins, django-axes' logs among them, are theirs).
PRODUCT_APPS = {"accounts", "orders", "billing", "finance", "payouts", "marketplace", "stripe_integration"}


def test_no_admin_list_reads_a_whole_table_for_its_filter_choices(client, staff):
    """A list filter over a column's values (Django's AllValuesFieldListFilter) runs a
    DISTINCT over every row, each time the list is shown: every filter offers fixed choices."""
    from django.contrib import admin

    from accounts.models import User
    from finance.models import PayoutSettingsChange
    from marketplace.models import ReconciliationReport

    # One report a day (its date drill-down reads ~365 rows a year); one row per change of
    # the payout settings (its filter lists the few staff who made them).
    SMALL_TABLES = {ReconciliationReport, PayoutSettingsChange}
    scanned, checked = {}, []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PRODUCT_APPS or not model_admin.has_view_permission(_request(staff)):
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        checked.append(url)
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url)
        # Singletons (the settings) redirect to their one change page; nothing else may.
        assert page.status_code == 200 or page["Location"].endswith("/1/change/"), url
        distinct = [
            q["sql"]
            for q in queries.captured_queries
            if "SELECT DISTINCT" in q["sql"].upper()
            and model not in SMALL_TABLES
            # A filter over a related user lists every user of the platform.
            or (model is not User and 'FROM "accounts_user"' in q["sql"] and " WHERE " not in q["sql"])
        ]
        if distinct:
            scanned[url] = distinct
    assert "/admin/payouts/payout/" in checked
    assert sorted(scanned) == [], "\n".join(f"{url}: {sql}" for url, sqls in scanned.items() for sql in sqls)


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_fixed_choice_filters_filter_by_prefix_and_by_currency_typed_in_any_case(client, staff):
    from stripe_integration.models import WebhookEvent

    dispute = WebhookEvent.objects.create(stripe_id="evt_1", type="charge.dispute.created", payload={})
    customer = WebhookEvent.objects.create(stripe_id="evt_2", type="customer.created", payload={})
    events = reverse("admin:stripe_integration_webhookevent_changelist")
    page = client.get(events)
    assert (
        "?type=charge.dispute.%2A" in page.content.decode()
        or "?type=charge.dispute.*" in page.content.decode()
    )
    assert _listed(client.get(events, {"type": "charge.dispute.*"})) == {dispute.pk}
    assert _listed(client.get(events, {"type": "customer.created"})) == {customer.pk}

    eur = OrderFactory(currency="EUR")
    OrderFactory(currency="USD")
    assert _listed(client.get(ORDERS, {"currency": "eur"})) == {eur.pk}
