"""Demo orders in every status, made through the services so each has a real timeline.
Orders are paid the real way: the buyer's demo card is charged through billing, against
the Stripe-compatible server (`make run` starts localstripe before seeding)."""

from billing import demo as billing_demo

from . import services
from .models import Order
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


def seed(*, people, stdout):
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
    for items, steps in zip(DEMO_ITEMS, walks, strict=True):
        order = services.order_place(buyer=buyer, seller=seller, currency="USD", items=items)
        _walk(order, buyer, seller, people.admin, steps)
    # The second seller and buyer get a couple of orders too, so pages are not empty.
    for items in DEMO_ITEMS[:2]:
        order = services.order_place(
            buyer=people.buyers[1], seller=people.sellers[1], currency="EUR", items=items
        )
        _walk(order, people.buyers[1], people.sellers[1], people.admin, ["pay", "ship", "deliver"])
    # Then the second buyer's card starts failing: their next order waits in dunning.
    billing_demo.give_card(people.buyers[1], billing_demo.INSUFFICIENT_FUNDS_CARD)
    order = services.order_place(
        buyer=people.buyers[1], seller=people.sellers[1], currency="EUR", items=DEMO_ITEMS[2]
    )
    billing_demo.charge_now(order.invoice)
    stdout.write(f"Orders: {len(walks) + 3} demo orders in every status, paid through billing.")
