"""The demo tells a story that holds together, since the README's screenshots come from
it: what is done is dated in the past, in the order it happened (placed, paid, shipped,
completed, refunded), what is scheduled is in the future, payouts fall on the payout
cycle's dates and are paid on their day, and no earning is paid before its order was
completed."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.utils import timezone
from django_fsm_log.models import StateLog

from billing.models import Invoice, Receipt, Transaction
from finance.models import PayoutCycleSettings
from marketplace.platform_time import platform_localtime
from orders.models import Order, OrderEvent
from payouts.models import Earning, Payout
from payouts.schedule import schedule_for


@pytest.fixture
def demo(db, stripe_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    return timezone.now()


def test_what_is_done_is_in_the_past_in_the_order_it_happened(demo):
    now = demo
    orders = list(Order.objects.all())
    for order in orders:
        steps = [order.created_at, order.paid_at, order.shipped_at, order.completed_at, order.refunded_at]
        steps = [moment for moment in steps if moment]
        assert steps == sorted(steps), f"order #{order.pk}: {steps}"
        assert max(steps) <= now
        story = list(
            StateLog.objects.filter(content_type=ContentType.objects.get_for_model(Order), object_id=order.pk)
            .order_by("pk")
            .values_list("timestamp", flat=True)
        )
        assert story == sorted(story), f"order #{order.pk}'s timeline runs backwards"
        assert all(order.created_at <= moment <= now for moment in story), order.pk
        events = OrderEvent.objects.filter(order=order).values_list("created_at", flat=True)
        assert all(order.created_at <= moment <= now for moment in events), order.pk
    # Not everything at one minute: the orders happened over days.
    assert max(o.created_at for o in orders) - min(o.created_at for o in orders) > timedelta(days=30)
    for invoice in Invoice.objects.filter(order__isnull=False, settled_at__isnull=False):
        assert invoice.created_at <= invoice.settled_at <= now, invoice.pk
    assert all(moment <= now for moment in Receipt.objects.values_list("issued_at", flat=True))
    assert all(
        moment <= now for moment in Transaction.objects.filter(done_at__isnull=False).values_list("done_at", flat=True)
    )


def test_payouts_fall_on_the_cycle_and_are_paid_on_their_day_after_the_sales_they_pay(demo):
    config = PayoutCycleSettings.load()
    today = config.today()
    payouts = list(Payout.objects.all())
    assert payouts
    first, last = min(p.payout_date for p in payouts), max(p.payout_date for p in payouts)
    cycle = set(schedule_for(config).payout_dates_between(first=first, last=last))
    for payout in payouts:
        assert payout.payout_date in cycle, f"payout #{payout.pk} on {payout.payout_date} is off the cycle"
        if payout.status in (Payout.Status.SCHEDULED, Payout.Status.PROCESSING):
            assert payout.payout_date >= today, f"payout #{payout.pk} is still {payout.status} after its date"
        if payout.paid_at:
            assert platform_localtime(payout.paid_at).date() == payout.payout_date, payout.pk
            assert payout.paid_at <= demo
            for earning in Earning.objects.filter(payout=payout, kind=Earning.Kind.SALE):
                assert earning.completed_at < payout.paid_at, (payout.pk, earning.pk)
                assert earning.available_on <= payout.payout_date, (payout.pk, earning.pk)
    for earning in Earning.objects.filter(kind=Earning.Kind.SALE).select_related("order"):
        assert earning.completed_at == earning.order.completed_at, earning.pk
