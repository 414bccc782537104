"""Disputes: the buyer's bank disputes a payment; the seller's earning is held while it is
open, released when it is won, and taken back (the order refunded) when it is lost. Over
HTTP: the dispute is opened and closed at the suite's local Stripe server and reaches the
product as signed `charge.dispute.*` webhooks."""

import pytest
import stripe
from django.conf import settings

from billing.models import Dispute, Transaction
from billing.tests.test_webhooks import _event, _post
from orders.ledger_checks import ledger_problems
from orders.models import Order, OrderEvent
from orders.tests.test_refunds import _complete, _place
from payouts.ledger import ledger_check
from payouts.models import Earning

pytestmark = pytest.mark.django_db


def _unpaid_total(order):
    return sum(
        e.amount
        for e in Earning.objects.filter(seller=order.seller, payout__isnull=True, reversed_at__isnull=True)
    )


def _deliver(client, billing, kind, dispute_id, n):
    with billing.capture(execute=True):
        response = _post(
            client, _event(f"evt_{dispute_id}_{n}", kind, {"id": dispute_id, "object": "dispute"})
        )
    assert response.status_code == 200, response.content


@pytest.fixture
def disputed(billing, client):
    order = _complete(billing, _place(billing))
    earned = _unpaid_total(order)
    intent = Transaction.objects.get(invoice__order=order, kind="charge").stripe_id
    dispute = billing.server.dispute(intent, reason="product_not_received")
    _deliver(client, billing, "charge.dispute.created", dispute["id"], 1)
    _deliver(client, billing, "charge.dispute.created", dispute["id"], 2)  # a duplicate changes nothing
    return order, dispute["id"], earned


def test_an_open_dispute_holds_the_sellers_earning(disputed, admin_client, mailoutbox):
    order, dispute_id, earned = disputed
    told = [m for m in mailoutbox if m.subject == f"The buyer's bank disputed order #{order.pk}"]
    assert [m.to for m in told] == [[order.seller.email]]  # once, though the event came twice
    assert "$36.00 (product_not_received)" in told[0].body and "held" in told[0].body
    assert Dispute.objects.get(stripe_id=dispute_id).status == "open"
    assert OrderEvent.objects.filter(order=order, kind="dispute_opened").count() == 1
    assert _unpaid_total(order) == 0  # all of it held: the whole payment is disputed
    assert Earning.objects.filter(order=order, kind="dispute_hold").count() == 1
    assert ledger_check() == []
    assert earned > 0
    page = admin_client.get("/admin/billing/dispute/").content.decode()
    assert dispute_id in page and "product_not_received" in page


def test_a_won_dispute_releases_the_hold(disputed, billing, client, mailoutbox):
    order, dispute_id, earned = disputed
    stripe.Dispute.modify(
        dispute_id, evidence={"uncategorized_text": "winning_evidence"}, api_key=settings.STRIPE_SECRET_KEY
    )
    _deliver(client, billing, "charge.dispute.closed", dispute_id, 3)

    assert Dispute.objects.get(stripe_id=dispute_id).status == "won"
    assert Order.objects.get(pk=order.pk).status == "completed"
    assert _unpaid_total(order) == earned
    assert mailoutbox[-1].to == [order.seller.email]
    assert mailoutbox[-1].subject == f"The dispute on order #{order.pk} was won"
    assert ledger_check() == []


def test_a_lost_dispute_refunds_the_order_and_takes_the_earning_back(disputed, billing, client, mailoutbox):
    order, dispute_id, earned = disputed
    sent = len(mailoutbox)
    stripe.Dispute.close(dispute_id, api_key=settings.STRIPE_SECRET_KEY)
    _deliver(client, billing, "charge.dispute.closed", dispute_id, 3)

    assert Dispute.objects.get(stripe_id=dispute_id).status == "lost"
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("refunded", order.total_amount)
    assert _unpaid_total(order) == 0  # not paid for a charged-back order
    assert OrderEvent.objects.filter(order=order, kind="dispute_lost").count() == 1
    assert ledger_check() == [] and ledger_problems() == []
    # The seller gets one email for the whole outcome; the buyer is told the money is back.
    new = {(m.to[0], m.subject) for m in mailoutbox[sent:]}
    assert new == {
        (order.seller.email, f"The dispute on order #{order.pk} was lost"),
        (order.buyer.email, f"Order #{order.pk} has been refunded"),
    }


@pytest.mark.parametrize("seller_pays", [False, True])
def test_a_lost_disputes_fee_is_the_sellers_or_the_platforms_as_the_settings_say(
    billing, client, seller_pays, mailoutbox
):
    from finance.models import PayoutCycleSettings

    PayoutCycleSettings.objects.update_or_create(
        pk=1, defaults={"dispute_fee_charged_to_seller": seller_pays}
    )
    order = _complete(billing, _place(billing))
    intent = Transaction.objects.get(invoice__order=order, kind="charge").stripe_id
    dispute = billing.server.dispute(intent)
    _deliver(client, billing, "charge.dispute.created", dispute["id"], 1)
    stripe.Dispute.close(dispute["id"], api_key=settings.STRIPE_SECRET_KEY)
    _deliver(client, billing, "charge.dispute.closed", dispute["id"], 2)

    assert Dispute.objects.get(stripe_id=dispute["id"]).fee_amount == 1500  # Stripe's $15.00
    assert _unpaid_total(order) == (-1500 if seller_pays else 0)
    (lost,) = [m for m in mailoutbox if m.subject == f"The dispute on order #{order.pk} was lost"]
    assert lost.to == [order.seller.email]
    assert ("dispute fee of $15.00 is charged to you" in lost.body) is seller_pays
    assert ledger_check() == [] and ledger_problems() == []


def test_a_dispute_opened_before_the_buyer_confirms_holds_the_earning_once_there_is_one(billing, client):
    order = _place(billing)  # paid, not yet delivered: nothing earned yet
    intent = Transaction.objects.get(invoice__order=order, kind="charge").stripe_id
    dispute = billing.server.dispute(intent, reason="product_not_received")
    _deliver(client, billing, "charge.dispute.created", dispute["id"], 1)

    order = _complete(billing, order)  # the parcel arrives; the buyer confirms

    assert order.status == "completed"
    assert _unpaid_total(order) == 0  # nothing payable while the dispute is open
    assert ledger_check() == [] and ledger_problems() == []
    stripe.Dispute.modify(
        dispute["id"], evidence={"uncategorized_text": "winning_evidence"}, api_key=settings.STRIPE_SECRET_KEY
    )
    _deliver(client, billing, "charge.dispute.closed", dispute["id"], 2)
    assert _unpaid_total(order) == Earning.objects.get(order=order, kind="sale").amount


def test_an_inquiry_that_closes_without_a_chargeback_releases_the_hold(billing, client):
    order = _complete(billing, _place(billing))
    earned = _unpaid_total(order)
    intent = Transaction.objects.get(invoice__order=order, kind="charge").stripe_id
    inquiry = billing.server.dispute(intent, reason="general", inquiry=True)
    _deliver(client, billing, "charge.dispute.created", inquiry["id"], 1)
    assert _unpaid_total(order) == 0  # held while the bank asks

    stripe.Dispute.modify(
        inquiry["id"], evidence={"uncategorized_text": "winning_evidence"}, api_key=settings.STRIPE_SECRET_KEY
    )
    _deliver(client, billing, "charge.dispute.closed", inquiry["id"], 2)

    assert Dispute.objects.get(stripe_id=inquiry["id"]).status == "won"
    assert _unpaid_total(order) == earned
    assert Order.objects.get(pk=order.pk).status == "completed"
    assert ledger_check() == [] and ledger_problems() == []
