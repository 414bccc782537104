import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from billing.admin import _parse_amount
from billing.models import DunningPolicy, Invoice, Plan

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/billing/invoice/"


def _action(client, action, invoice, **fields):
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [invoice.pk], "apply": "1", **fields},
        follow=True,
    )


def test_invoices_list_filters_and_shows_the_decoded_reason(admin_client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009995"))
    listing = admin_client.get(CHANGELIST, {"status__exact": "processing"}).content.decode()
    assert f"/admin/billing/invoice/{invoice.pk}/change/" in listing
    assert (
        f"/admin/billing/invoice/{invoice.pk}/change/"
        not in admin_client.get(CHANGELIST, {"status__exact": "settled"}).content.decode()
    )
    detail = admin_client.get(f"/admin/billing/invoice/{invoice.pk}/change/").content.decode()
    assert "soft: the card has insufficient funds, next try on " in detail
    txn = invoice.transactions.get()
    assert (
        "insufficient_funds"
        in admin_client.get(f"/admin/billing/transaction/{txn.pk}/change/").content.decode()
    )


def test_partial_refund_from_the_admin_with_an_amount(admin_client, billing):
    invoice = billing.invoice(billing.customer(card="4242424242424242"), amount=5000)
    with billing.capture(execute=True):
        response = _action(admin_client, "refund_invoices", invoice, amount="12.50", reason="Late")
    assert "done" in response.content.decode()
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.status, invoice.amount_refunded) == ("settled", 1250)


@pytest.mark.parametrize(
    "amount", ["abc", "-3", "0", "1.234", "60.00", "NaN", "sNaN", "Infinity", "-Infinity", "1E+999999"]
)
def test_a_bad_refund_amount_says_so_and_changes_nothing(admin_client, billing, amount):
    invoice = billing.invoice(billing.customer(card="4242424242424242"), amount=5000)
    response = _action(admin_client, "refund_invoices", invoice, amount=amount, reason="Oops")
    assert response.status_code == 200
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.status, invoice.amount_refunded, invoice.transactions.filter(kind="refund").count()) == (
        "settled",
        0,
        0,
    )
    assert f"Invoice #{invoice.pk}:" in response.content.decode()


@pytest.mark.parametrize(
    "amount, currency, message",
    [
        ("10.005", "USD", "USD amounts have at most 2 decimals, like 12.50."),
        ("12.5", "JPY", "JPY amounts have no decimals: write a whole number, like 1250."),
    ],
)
def test_a_refund_amount_with_more_decimals_than_the_currency_has_says_so_and_changes_nothing(
    admin_client, billing, amount, currency, message
):
    invoice = billing.invoice(billing.customer(card="4242424242424242"), amount=5000)
    Invoice.objects.filter(pk=invoice.pk).update(currency=currency)
    response = _action(admin_client, "refund_invoices", invoice, amount=amount, reason="Oops")
    assert message in response.content.decode()
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.status, invoice.amount_refunded, invoice.transactions.filter(kind="refund").count()) == (
        "settled",
        0,
        0,
    )


@pytest.mark.parametrize("amount", ["sNaN", "20.00"])
def test_a_refund_of_several_invoices_checks_every_one_first_and_refunds_none_when_one_is_refused(
    admin_client, billing, amount
):
    customer = billing.customer(card="4242424242424242")
    big, small = billing.invoice(customer, amount=5000), billing.invoice(customer, amount=1000)

    with billing.capture(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "refund_invoices", ACTION_CHECKBOX_NAME: [big.pk, small.pk], "apply": "1"}
            | {"amount": amount, "reason": "Goodwill"},
            follow=True,
        )

    html = response.content.decode()
    assert response.status_code == 200
    assert f"Invoice #{small.pk}:" in html
    assert "Nothing was changed: fix or unselect the rows above and try again." in html
    for invoice in (big, small):
        invoice = Invoice.objects.get(pk=invoice.pk)
        assert (invoice.status, invoice.amount_refunded) == ("settled", 0)
        assert not invoice.transactions.filter(kind="refund").exists()


def test_retry_now_and_cancel(admin_client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009995"))
    with billing.capture(execute=True):
        admin_client.post(
            CHANGELIST, {"action": "retry_now", ACTION_CHECKBOX_NAME: [invoice.pk]}, follow=True
        )
    assert invoice.transactions.get().attempts.count() == 2
    _action(admin_client, "cancel_invoices", invoice, reason="Customer left")
    assert Invoice.objects.get(pk=invoice.pk).status == "canceled"


def test_the_dunning_policy_form_refuses_bad_delays(admin_client, db):
    policy = DunningPolicy.load()
    url = f"/admin/billing/dunningpolicy/{policy.pk}/change/"
    response = admin_client.post(
        url,
        {
            "retry_delays": "1, 3, x",
            "final_action": "cancel",
            "grace_period_days": 3,
            "ambiguous_retry_cap": 2,
        },
    )
    assert "is not a delay" in response.content.decode()
    assert DunningPolicy.load().retry_delays == "1, 3, 5, 7"
    admin_client.post(
        url,
        {"retry_delays": "2,4", "final_action": "unpaid", "grace_period_days": 5, "ambiguous_retry_cap": 1},
    )
    assert DunningPolicy.load().snapshot()["retry_delays"] == [2, 4]
    assert admin_client.get("/admin/billing/dunningpolicy/").status_code == 302


def test_parse_amount():
    assert _parse_amount("12.50", "USD") == 1250
    assert _parse_amount("1,000", "JPY") == 1000
    assert _parse_amount("", "USD") is None


def test_a_plan_price_is_typed_in_its_currency_and_stored_in_minor_units(admin_client):
    url = reverse("admin:billing_plan_add")
    data = {
        "name": "Seller Pro",
        "currency": "usd",
        "price": "29.00",
        "interval_unit": "month",
        "interval_count": 1,
    }
    assert admin_client.post(url, {**data, "price": "29.005"}).status_code == 200  # refused, with the reason
    assert not Plan.objects.exists()
    admin_client.post(url, {**data, "is_active": "on"})
    plan = Plan.objects.get()
    assert (plan.amount, plan.currency) == (2900, "USD")
    page = admin_client.get(reverse("admin:billing_plan_change", args=[plan.pk])).content.decode()
    assert 'value="29.00"' in page and 'value="2900"' not in page


def test_retry_now_checks_every_selected_invoice_first_and_retries_none_when_one_has_nothing_to_retry(
    admin_client, billing
):
    failing = billing.invoice(billing.customer(card="4000000000009995"))
    paid = billing.invoice(billing.customer(card="4242424242424242"))
    (charge,) = failing.transactions.all()
    due = charge.next_attempt_at

    with billing.capture(execute=True):
        response = admin_client.post(
            CHANGELIST, {"action": "retry_now", ACTION_CHECKBOX_NAME: [failing.pk, paid.pk]}, follow=True
        )

    html = response.content.decode()
    assert f"Invoice #{paid.pk} has nothing to retry: it is settled." in html
    assert "Nothing was changed" in html
    charge = type(charge).objects.get(pk=charge.pk)  # FSM fields cannot be refreshed
    assert charge.next_attempt_at == due and charge.attempts.count() == 1


@pytest.mark.parametrize("amount", ["12,50", "0,5", "1,2345"])
def test_a_refund_amount_with_a_decimal_comma_is_refused_not_read_as_a_hundred_times_more(
    admin_client, billing, amount
):
    invoice = billing.invoice(billing.customer(card="4242424242424242"), amount=500000)
    response = _action(admin_client, "refund_invoices", invoice, amount=amount, reason="Oops")
    assert f"“{amount}” is not an amount. Write it like 12.50." in response.content.decode()
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.status, invoice.amount_refunded, invoice.transactions.filter(kind="refund").count()) == (
        "settled",
        0,
        0,
    )
    assert _parse_amount("1,250.50", "USD") == 125050
