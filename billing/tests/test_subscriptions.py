from datetime import UTC, datetime, timedelta

import pytest

from billing import services, single_runner
from billing.models import Invoice, Subscription, Transaction
from billing.periods import period_start
from billing.tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


def _d(*args):
    return datetime(*args, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "unit", "count", "expected"),
    [
        (_d(2026, 1, 31), "month", 1, [_d(2026, 1, 31), _d(2026, 2, 28), _d(2026, 3, 31), _d(2026, 4, 30)]),
        (_d(2028, 1, 31), "month", 1, [_d(2028, 1, 31), _d(2028, 2, 29), _d(2028, 3, 31), _d(2028, 4, 30)]),
        (_d(2028, 2, 29), "year", 1, [_d(2028, 2, 29), _d(2029, 2, 28), _d(2030, 2, 28), _d(2031, 2, 28)]),
        (_d(2026, 11, 30), "month", 3, [_d(2026, 11, 30), _d(2027, 2, 28), _d(2027, 5, 30), _d(2027, 8, 30)]),
        (_d(2026, 12, 29), "week", 2, [_d(2026, 12, 29), _d(2027, 1, 12), _d(2027, 1, 26), _d(2027, 2, 9)]),
        (_d(2026, 12, 31), "day", 1, [_d(2026, 12, 31), _d(2027, 1, 1), _d(2027, 1, 2), _d(2027, 1, 3)]),
    ],
)
def test_periods_are_counted_from_the_start_with_month_ends_clamped(start, unit, count, expected):
    assert [period_start(start, unit, count, k) for k in range(4)] == expected


def test_missed_periods_are_all_invoiced_once(billing):
    customer = billing.customer(card="4242424242424242")
    sub = services.subscription_create(
        customer=customer, plan=PlanFactory(amount=2900), started_at=_d(2026, 1, 31)
    )

    report = billing.run(now=_d(2026, 4, 30) + timedelta(hours=1))
    again = billing.run(now=_d(2026, 4, 30) + timedelta(hours=2))

    invoices = Invoice.objects.filter(subscription=sub).order_by("period_index")
    assert report.invoices_issued == 4 and again.invoices_issued == 0
    assert [(i.period_start, i.status) for i in invoices] == [
        (_d(2026, 1, 31), "settled"),
        (_d(2026, 2, 28), "settled"),
        (_d(2026, 3, 31), "settled"),
        (_d(2026, 4, 30), "settled"),
    ]
    assert Subscription.objects.get(pk=sub.pk).next_invoice_at == _d(2026, 5, 31)
    assert invoices[1].lines.get().description == "Seller Pro, 28 Feb 2026 to 31 Mar 2026"


def test_canceling_a_subscription_cancels_its_open_transactions(billing, mailoutbox):
    customer = billing.customer(card="4000000000009995")
    sub = services.subscription_create(customer=customer, plan=PlanFactory())
    billing.run()
    (charge,) = Transaction.objects.filter(invoice__subscription=sub)
    assert charge.status == "retrying"

    with billing.capture(execute=True):
        services.subscription_cancel(subscription_id=sub.pk, reason="Closing the shop")

    assert Transaction.objects.get(pk=charge.pk).status == "canceled"
    assert Invoice.objects.get(subscription=sub).status == "canceled"
    assert Subscription.objects.get(pk=sub.pk).status == "canceled"
    assert billing.run(now=_d(2030, 1, 1)).attempted == 0  # and no new periods are billed
    assert mailoutbox[-1].subject == "Your Seller Pro subscription has been canceled"
    with pytest.raises(services.ApplicationError, match="already canceled"):
        services.subscription_cancel(subscription_id=sub.pk)


def test_a_zero_amount_invoice_settles_at_once(billing):
    invoice = billing.invoice(billing.customer(), amount=0)
    assert invoice.status == "settled" and invoice.transactions.count() == 0


def test_an_invoice_without_a_card_waits_and_asks_for_one(billing, mailoutbox):
    invoice = billing.invoice(billing.customer())
    assert invoice.status == "init"
    assert mailoutbox[-1].subject == f"Action needed to pay $10.00 for invoice #{invoice.pk} (Thing)"
    assert "There is no card on file" in mailoutbox[-1].body


def test_the_loop_does_not_run_twice_at_once(billing):
    from django.db import connection

    from billing.models import ProcessingLease

    if connection.vendor != "sqlite":
        pytest.skip("the lease is SQLite's guard; PostgreSQL's advisory lock: test_single_runner.py")
    single_runner._lease_take("process_transactions", "someone-else", 600)
    assert billing.run().skipped_busy is True
    ProcessingLease.objects.update(held_until=_d(2000, 1, 1))
    assert billing.run().skipped_busy is False


def test_staff_canceling_the_failing_invoice_makes_a_past_due_subscription_active_again(billing):
    customer = billing.customer(card="4000000000009995")  # insufficient funds: retried
    sub = services.subscription_create(customer=customer, plan=PlanFactory())
    billing.run()
    assert Subscription.objects.get(pk=sub.pk).status == "past_due"
    invoice = Invoice.objects.get(subscription=sub)

    with billing.capture(execute=True):
        services.invoice_cancel(invoice_id=invoice.pk, reason="Goodwill: first month free")

    assert Subscription.objects.get(pk=sub.pk).status == "active"
    assert Transaction.objects.get(invoice=invoice).status == "canceled"
