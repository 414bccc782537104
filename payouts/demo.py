"""
Demo payouts for `manage.py seed_demo`: orders completed across several past dates, a
payout already paid, one that failed and went out again, one waiting for the admin to
send, and a seller whose refund after payout left a negative balance.

Orders go through the real services (placed, charged through billing, shipped, delivered,
confirmed). To give the demo a history, the completions are then moved back in time
(`_backdate`): only the dates change, never an amount, so the ledger stays exact.
"""

from datetime import datetime, time, timedelta

from django.db import transaction

from billing import demo as billing_demo
from finance.models import PayoutCycleSettings
from orders import services as orders
from orders.models import Order
from orders.services import ItemLine

from . import services
from .models import Earning, Payout, PayoutAccount
from .schedule import available_on, schedule_for


def _completed_order(*, buyer, seller, items, currency="USD") -> Order:
    order = orders.order_place(buyer=buyer, seller=seller, currency=currency, items=items)
    billing_demo.charge_now(order.invoice)
    orders.order_mark_shipped(
        order_id=order.pk, by=seller, carrier="DHL", tracking_number=f"DHL{order.pk:08d}"
    )
    orders.order_mark_delivered(order_id=order.pk, by=seller)
    return orders.order_confirm_received(order_id=order.pk, by=buyer)


def _backdate(order: Order, completed_at: datetime) -> None:
    config = PayoutCycleSettings.load()
    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(completed_at=completed_at, status_changed_at=completed_at)
        earning = Earning.objects.get(order=order, kind=Earning.Kind.SALE)
        Earning.objects.filter(pk=earning.pk).update(
            completed_at=completed_at,
            available_on=available_on(
                completed_at=completed_at, timezone_name=config.timezone, delay_days=earning.delay_days
            ),
        )


def seed(*, people, stdout):
    sam, sofia = people.sellers[0], people.sellers[1]
    if Payout.objects.filter(seller=sam).exists():
        stdout.write("Payouts: demo payouts already exist.")
        return
    config = PayoutCycleSettings.load()
    schedule = schedule_for(config)
    today = config.today()
    past = schedule.payout_dates_between(first=today - timedelta(days=70), last=today - timedelta(days=1))[
        -3:
    ]
    if len(past) < 3:
        stdout.write("Payouts: the schedule has fewer than three past dates; no demo history.")
        return
    buyer = people.buyers[0]
    billing_demo.give_card(buyer, billing_demo.GOOD_CARD)
    PayoutAccount.objects.get_or_create(
        seller=sam, defaults={"bank_reference": "Sam Seller · DE89 3704 0044 0532 0130 00"}
    )
    PayoutAccount.objects.get_or_create(
        seller=sofia, defaults={"bank_reference": "Sofia S. · GB29 NWBK 6016 1331 9268 19"}
    )

    def at(day, hour):
        return datetime.combine(day, time(hour), tzinfo=config.tz)

    # Sam: a sale before each of the last three payout dates (the orders demo adds recent ones).
    sales = [
        (past[0] - timedelta(days=config.delay_days + 3), [ItemLine("Oak serving board", 1, 7400)]),
        (past[1] - timedelta(days=config.delay_days + 2), [ItemLine("Glazed vase", 1, 5600)]),
        (past[2] - timedelta(days=config.delay_days + 1), [ItemLine("Rattan basket", 2, 2300)]),
    ]
    for day, items in sales:
        _backdate(_completed_order(buyer=buyer, seller=sam, items=items), at(day, 15))
    # Sofia: a sale paid out on the middle date, refunded after that payout.
    refunded = _completed_order(buyer=buyer, seller=sofia, items=[ItemLine("Silk scarf", 1, 8800)])
    _backdate(refunded, at(past[1] - timedelta(days=config.delay_days + 1), 11))

    first = services.payout_run_create(payout_date=past[0])
    for payout in Payout.objects.filter(payout_date=past[0]):
        services.payout_mark_paid(
            payout_id=payout.pk, by=people.admin, reference=f"BANK-{past[0]:%Y%m%d}-{payout.pk}"
        )
    services.payout_run_create(payout_date=past[1])
    services.payout_mark_failed(
        payout_id=Payout.objects.get(payout_date=past[1], seller=sam).pk,
        by=people.admin,
        reason="The bank returned it: the account number does not match the account holder.",
    )
    services.payout_mark_paid(
        payout_id=Payout.objects.get(payout_date=past[1], seller=sofia).pk,
        by=people.admin,
        reference="BANK-SOFIA-1",
    )
    services.payout_run_create(payout_date=past[2])  # Sam's failed money goes out again here
    orders.order_refund(order_id=refunded.pk, by=sofia, reason="The scarf arrived torn.")
    billing_demo.charge_now(refunded.invoice)

    stdout.write(
        f"Payouts: runs for {', '.join(str(d) for d in past)} ({first.payouts}+ payouts: paid, failed and "
        "sent again, waiting to be sent), and a refund after payout that leaves Sofia's balance negative."
    )
