"""Demo orders in every status, made through the services so each has a real timeline.
Orders are paid the real way: the buyer's demo card is charged through billing, against
the Stripe-compatible server (`make run` starts localstripe before seeding).

Also the payout history: orders completed across several past payout dates, a payout
paid on its day, one that failed and went out again on the next date, and
a seller whose refund after payout left a negative balance. It lives here, not in
`payouts/demo.py`, because it drives orders (payouts imports nothing from orders; orders
hands its completed orders to payouts). To give the demo a history, the completions are
moved back in time (`_retime`): only the dates change, never an amount, so the ledger
stays exact.
"""

from contextlib import nullcontext
from datetime import datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django_fsm_log.models import StateLog

from billing import demo as billing_demo
from finance.models import PayoutCycleSettings
from payouts import demo as payouts_demo

from . import services
from .models import Order, OrderEvent
from .services import ItemLine

S = Order.Status
DEMO_ITEMS = [
    [ItemLine("Hand-thrown mug", 2, 1800)],
    [ItemLine("Linen tea towel", 3, 900), ItemLine("Beeswax wrap", 1, 1200)],
    [ItemLine("Walnut cutting board", 1, 6500)],
    [ItemLine("Ceramic planter", 1, 3400)],
    [ItemLine("Wool throw", 1, 12900)],
    [ItemLine("Letterpress cards (set of 6)", 2, 1500)],
    [ItemLine("Copper watering can", 1, 5400)],
    [ItemLine("Stoneware bowl", 4, 2200)],
    [ItemLine("Leather notebook", 1, 3900)],
]


def _walk(order, buyer, seller, admin, steps):
    oid = order.pk
    for step in steps:
        if step == "pay":
            billing_demo.charge_now(order.invoice)
        elif step == "ship":
            services.order_mark_shipped(
                order_id=oid, by=seller, carrier="PostNord", tracking_number=f"PN{oid:08d}"
            )
        elif step == "deliver":
            services.order_mark_delivered(order_id=oid, by=seller)
        elif step == "not_received":
            services.order_report_not_received(order_id=oid, by=buyer, message="Nothing in my mailbox yet.")
        elif step == "resolve":
            services.order_resolve_and_confirm_delivery(order_id=oid, by=seller)
        elif step == "confirm":
            services.order_confirm_received(order_id=oid, by=buyer)
        elif step == "refund":
            services.order_refund(order_id=oid, by=seller, reason="Arrived damaged; refunded in full.")
            billing_demo.charge_now(order.invoice)
        elif step == "cancel":
            services.order_cancel(order_id=oid, by=buyer)


def _orders_in_every_status_seed(*, people, stdout):
    seller, buyer = people.sellers[0], people.buyers[0]
    if Order.objects.filter(seller=seller).exists():
        stdout.write("Orders: demo orders already exist.")
        return
    walks = [
        [],  # pending_payment
        ["pay"],
        ["pay", "ship"],
        ["pay", "ship", "deliver"],
        ["pay", "ship", "deliver", "not_received"],
        ["pay", "ship", "deliver", "confirm"],
        ["pay", "ship", "deliver", "not_received", "resolve", "confirm"],  # two confirmation rounds
        ["pay", "ship", "refund"],
        ["cancel"],
    ]
    billing_demo.give_card(buyer, billing_demo.GOOD_CARD)
    billing_demo.give_card(people.buyers[1], billing_demo.GOOD_CARD)
    # Each order's story ends a little before the next one's, in the last day, so every
    # date shown is in the past and nothing waits long enough to be reminded or timed out.
    now = timezone.now()
    for index, (items, steps) in enumerate(zip(DEMO_ITEMS, walks, strict=True)):
        # The order canceled before payment is placed and canceled in one transaction: a
        # worker already running (make run) would otherwise charge it first.
        with transaction.atomic() if steps == ["cancel"] else nullcontext():
            order = services.order_place(buyer=buyer, seller=seller, currency="USD", items=items)
            _walk(order, buyer, seller, people.admin, steps)
        _retime(order, end_at=now - timedelta(hours=2 * (len(walks) - index)))
    # The second seller and buyer get a couple of orders too, so pages are not empty.
    for index, items in enumerate(DEMO_ITEMS[:2]):
        order = services.order_place(
            buyer=people.buyers[1], seller=people.sellers[1], currency="EUR", items=items
        )
        _walk(order, people.buyers[1], people.sellers[1], people.admin, ["pay", "ship", "deliver"])
        _retime(order, end_at=now - timedelta(hours=3 - index))
    # Then the second buyer's card starts failing: their next order waits in dunning.
    billing_demo.give_card(people.buyers[1], billing_demo.INSUFFICIENT_FUNDS_CARD)
    order = services.order_place(
        buyer=people.buyers[1], seller=people.sellers[1], currency="EUR", items=DEMO_ITEMS[2]
    )
    billing_demo.charge_now(order.invoice)
    stdout.write(f"Orders: {len(walks) + 3} demo orders in every status, paid through billing.")


def seed(*, people, stdout):
    """Orders in every status, then the payout history; each part skips itself when its
    rows already exist, so running `seed_demo` twice duplicates nothing."""
    # How each seller is paid comes first, as on a real platform: once a seller has money
    # waiting, even their first setup needs the password and cools off.
    payouts_demo.payout_accounts_seed(people=people)
    _orders_in_every_status_seed(people=people, stdout=stdout)
    _payout_history_seed(people=people, stdout=stdout)


def _completed_order(*, buyer, seller, items, currency="USD") -> Order:
    order = services.order_place(buyer=buyer, seller=seller, currency=currency, items=items)
    billing_demo.charge_now(order.invoice)
    services.order_mark_shipped(
        order_id=order.pk, by=seller, carrier="DHL", tracking_number=f"DHL{order.pk:08d}"
    )
    services.order_mark_delivered(order_id=order.pk, by=seller)
    return services.order_confirm_received(order_id=order.pk, by=buyer)


def _retime(order: Order, *, end_at: datetime, step: timedelta = timedelta(days=1)) -> None:
    """Spread a demo order's story over the days before `end_at`, as it would have
    happened: placed, paid ten minutes later, then one step (a day) between each later
    change, the last one at `end_at`. The order's dates, its timeline, its invoice and
    charges, its receipts and the seller's earning all move together; only dates change,
    never an amount, so the ledger stays exact and nothing done is dated after now."""
    logs = list(
        StateLog.objects.filter(content_type=ContentType.objects.get_for_model(Order), object_id=order.pk)
    )
    events = list(OrderEvent.objects.filter(order=order))
    story = sorted([(log.timestamp, log) for log in logs] + [(e.created_at, e) for e in events], key=lambda x: x[0])
    moments = [end_at - step * (len(story) - 1 - index) for index in range(len(story))]
    paid_first = story and getattr(story[0][1], "state", "") == Order.Status.PAID
    placed_at = moments[0] - (timedelta(minutes=10) if paid_first else step) if story else end_at
    reached = {}
    for moment, (_, row) in zip(moments, story, strict=True):
        if isinstance(row, StateLog):
            StateLog.objects.filter(pk=row.pk).update(timestamp=moment)
            reached.setdefault(row.state, moment)
        else:
            OrderEvent.objects.filter(pk=row.pk).update(created_at=moment)
    order.refresh_from_db()
    dates = {"created_at": placed_at, "status_changed_at": moments[-1] if logs else placed_at}
    for field, state in (
        ("paid_at", Order.Status.PAID),
        ("shipped_at", Order.Status.SHIPPED),
        ("completed_at", Order.Status.COMPLETED),
        ("refunded_at", Order.Status.REFUNDED),
        ("canceled_at", Order.Status.CANCELED),
    ):
        if getattr(order, field) and state in reached:
            dates[field] = reached[state]
    refund_events = [m for m, (_, row) in zip(moments, story, strict=True) if isinstance(row, OrderEvent)
                     and "refund" in row.kind]
    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(**dates)
        invoice = getattr(order, "invoice", None)
        if invoice is not None:
            billing_demo.invoice_retime(
                invoice.pk,
                created_at=placed_at,
                paid_at=dates.get("paid_at"),
                refunded_at=dates.get("refunded_at") or (refund_events[-1] if refund_events else None),
            )
        if "completed_at" in dates:
            payouts_demo.earning_backdate(order_id=order.pk, completed_at=dates["completed_at"])


def _payout_history_seed(*, people, stdout):
    sam, sofia = people.sellers[0], people.sellers[1]
    if payouts_demo.history_exists(people=people):
        stdout.write("Payouts: demo payouts already exist.")
        return
    past = payouts_demo.history_dates(count=3)
    if len(past) < 3:
        stdout.write("Payouts: the schedule has fewer than three past dates; no demo history.")
        return
    config = PayoutCycleSettings.load()
    buyer = people.buyers[0]
    billing_demo.give_card(buyer, billing_demo.GOOD_CARD)

    def at(day, hour):
        return datetime.combine(day, time(hour), tzinfo=config.tz)

    # Sam: a sale before each of the last three payout dates (the orders above are recent).
    sales = [
        (past[0] - timedelta(days=config.delay_days + 3), [ItemLine("Oak serving board", 1, 7400)]),
        (past[1] - timedelta(days=config.delay_days + 2), [ItemLine("Glazed vase", 1, 5600)]),
        (past[2] - timedelta(days=config.delay_days + 1), [ItemLine("Rattan basket", 2, 2300)]),
    ]
    for day, items in sales:
        _retime(_completed_order(buyer=buyer, seller=sam, items=items), end_at=at(day, 15))
    # Sofia: a sale paid out on the middle date, refunded after that payout.
    refunded = _completed_order(buyer=buyer, seller=sofia, items=[ItemLine("Silk scarf", 1, 8800)])
    _retime(refunded, end_at=at(past[1] - timedelta(days=config.delay_days + 1), 11))

    first = payouts_demo.history_runs_seed(people=people, past=past)
    services.order_refund(order_id=refunded.pk, by=sofia, reason="The scarf arrived torn.")
    billing_demo.charge_now(refunded.invoice)
    # Stella (Stripe), Hal (halfway through Stripe's onboarding) and Cora (new bank
    # details cooling off): a sale each, available now; Hal's and Cora's money waits.
    available = config.today() - timedelta(days=config.delay_days + 1)
    for seller, item in zip(
        people.sellers[2:5],
        [
            ItemLine("Linen apron", 1, 3900),
            ItemLine("Beeswax candles", 3, 1200),
            ItemLine("Wool throw", 1, 9900),
        ],
        strict=True,
    ):
        _retime(_completed_order(buyer=buyer, seller=seller, items=[item]), end_at=at(available, 10))

    stdout.write(
        f"Payouts: runs for {', '.join(str(d) for d in past)} ({first.payouts}+ payouts: paid, failed and "
        "sent again), and a refund after payout that leaves Sofia's balance negative."
    )
