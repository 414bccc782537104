"""A refund Stripe answers `pending` is not confirmed yet: the order, the seller's earning
and the emails wait until Stripe settles it `succeeded` (then the one refund path runs, once)
or `failed` / `canceled` (then it is a refused refund: the order stays as it was, the seller
is told why, the buyer nothing). Over HTTP against the suite's local Stripe server, which
keeps a refund pending and settles it through a test hook, sending `refund.updated`."""

from datetime import timedelta

import pytest
import stripe
from django.conf import settings
from django.utils import timezone

from billing import services as billing_services
from billing.models import Attempt, Invoice, Transaction
from billing.tests.test_webhooks import _event, _post
from orders import services as orders
from orders.ledger_checks import ledger_problems
from orders.models import Order, OrderEvent
from orders.tests.test_refunds import _complete, _payment_intent, _place
from payouts.ledger import ledger_check
from payouts.models import Earning

pytestmark = pytest.mark.django_db


def _refund_pending(billing, order):
    billing.server.refunds_pending(1)
    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="Broken in transit")
    txn = Transaction.objects.get(invoice__order=order, kind="refund")
    (refund_id,) = set(Attempt.objects.filter(transaction=txn).values_list("stripe_id", flat=True))
    return txn, refund_id


def _stripe_refunds(order):
    return stripe.Refund.list(payment_intent=_payment_intent(order), api_key=settings.STRIPE_SECRET_KEY).data


def _deliver(client, billing, refund, n):
    with billing.capture(execute=True):
        response = _post(client, _event(f"evt_{refund['id']}_{n}", "refund.updated", refund))
    assert response.status_code == 200, response.content


def _untouched(order, sale, mailoutbox, sent):
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("completed", 0)
    assert Earning.objects.get(pk=sale.pk).reversed_at is None
    assert not Earning.objects.filter(order=order, kind="clawback").exists()
    assert not OrderEvent.objects.filter(order=order, kind__in=["partly_refunded", "refund_refused"]).exists()
    assert mailoutbox[sent:] == []
    assert ledger_check() == [] and ledger_problems() == []


def test_a_pending_refund_changes_nothing_until_stripe_says_it_succeeded(billing, client, mailoutbox):
    order = _complete(billing, _place(billing))
    sale = Earning.objects.get(order=order, kind="sale")
    sent = len(mailoutbox)

    txn, refund_id = _refund_pending(billing, order)

    _untouched(order, sale, mailoutbox, sent)
    assert Transaction.objects.get(pk=txn.pk).status == "init"  # still in progress
    assert Invoice.objects.get(order=order).status == "refunding"

    refund = billing.server.refund_settle(refund_id, "succeeded")
    _deliver(client, billing, refund, 1)
    _deliver(client, billing, refund, 2)  # Stripe sends it again: nothing more happens

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("refunded", 3600)
    assert Earning.objects.get(pk=sale.pk).reversed_at is not None
    assert (Transaction.objects.get(pk=txn.pk).status, Transaction.objects.get(pk=txn.pk).stripe_id) == (
        "done",
        refund_id,
    )
    to_buyer = [m.subject for m in mailoutbox[sent:] if m.to == [order.buyer.email]]
    assert to_buyer.count(f"Order #{order.pk} has been refunded") == 1
    to_seller = [m.subject for m in mailoutbox[sent:] if m.to == [order.seller.email]]
    assert to_seller and len(to_seller) == len(set(to_seller))  # told once
    assert len(_stripe_refunds(order)) == 1
    assert ledger_check() == [] and ledger_problems() == []


def test_a_pending_refund_that_fails_leaves_the_order_and_tells_the_seller_why(billing, client, mailoutbox):
    order = _complete(billing, _place(billing))
    sale = Earning.objects.get(order=order, kind="sale")
    sent = len(mailoutbox)
    txn, refund_id = _refund_pending(billing, order)
    _untouched(order, sale, mailoutbox, sent)

    refund = billing.server.refund_settle(refund_id, "failed", failure_reason="expired_or_canceled_card")
    _deliver(client, billing, refund, 1)
    _deliver(client, billing, refund, 2)

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("completed", 0)
    assert Earning.objects.get(pk=sale.pk).reversed_at is None
    assert not Earning.objects.filter(order=order, kind="clawback").exists()
    txn = Transaction.objects.get(pk=txn.pk)
    assert txn.status == "failed"
    assert "card" in txn.last_message and "expired" in txn.last_message
    assert Invoice.objects.get(order=order).status == "settled"  # can be refunded again
    refused = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.REFUND_REFUSED)
    assert "expired" in refused.note
    new = mailoutbox[sent:]
    assert [m.to for m in new] == [[order.seller.email]]  # once, though the event came twice
    assert new[0].subject == f"The refund for order #{order.pk} did not go through"
    assert "expired" in new[0].body
    assert ledger_check() == [] and ledger_problems() == []

    # The money is still there to refund: a new refund goes through.
    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="Broken in transit")
    assert Order.objects.get(pk=order.pk).status == "refunded"
    assert ledger_check() == [] and ledger_problems() == []


def test_the_processing_loop_re_reads_a_pending_refund_and_never_makes_a_second_one(billing, mailoutbox):
    order = _complete(billing, _place(billing))
    sale = Earning.objects.get(order=order, kind="sale")
    sent = len(mailoutbox)
    txn, refund_id = _refund_pending(billing, order)
    # Stripe forgets idempotency keys after a day: re-sending the create would refund twice.
    billing.server.flush_idempotency_keys()

    later = timezone.now()
    for _ in range(3):
        later += timedelta(days=1)
        with billing.capture(execute=True):
            billing_services.transactions_process_due(now=later)
    _untouched(order, sale, mailoutbox, sent)
    assert Transaction.objects.get(pk=txn.pk).status == "init"
    assert [r["id"] for r in _stripe_refunds(order)] == [refund_id]

    billing.server.refund_settle(refund_id, "succeeded")  # its webhook is lost
    for _ in range(2):
        later += timedelta(days=1)
        with billing.capture(execute=True):
            billing_services.transactions_process_due(now=later)

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("refunded", 3600)
    assert Earning.objects.get(pk=sale.pk).reversed_at is not None
    to_buyer = [m.subject for m in mailoutbox[sent:] if m.to == [order.buyer.email]]
    assert to_buyer.count(f"Order #{order.pk} has been refunded") == 1
    assert [r["id"] for r in _stripe_refunds(order)] == [refund_id]
    assert Attempt.objects.filter(transaction=txn).count() == 1
    assert ledger_check() == [] and ledger_problems() == []


def test_a_refund_made_in_the_stripe_dashboard_is_recorded_once_it_succeeded(billing, client, mailoutbox):
    order = _place(billing)
    billing.server.refunds_pending(1)
    refund = stripe.Refund.create(
        payment_intent=_payment_intent(order), amount=1000, api_key=settings.STRIPE_SECRET_KEY
    )
    assert refund["status"] == "pending"
    sent = len(mailoutbox)
    with billing.capture(execute=True):
        response = _post(client, _event("evt_dashboard_pending", "refund.created", refund.to_dict()))
    assert response.status_code == 200
    assert Order.objects.get(pk=order.pk).amount_refunded == 0
    assert not Transaction.objects.filter(invoice__order=order, kind="refund").exists()
    assert mailoutbox[sent:] == []

    _deliver(client, billing, billing.server.refund_settle(refund["id"], "succeeded"), 1)
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("paid", 1000)
    assert f"Part of order #{order.pk} has been refunded" in [m.subject for m in mailoutbox[sent:]]
