"""Races on PostgreSQL with real threads, each on its own connection (transaction=True:
a test wrapped in one transaction would hide them)."""

from functools import partial

import pytest
from django.test import Client
from django.urls import reverse
from django_fsm_log.models import StateLog

from marketplace.exceptions import ApplicationError
from marketplace.tests.races import race
from orders import services
from orders.models import Order

from .factories import OrderFactory

S = Order.Status
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_buyer_confirming_while_the_seller_refunds_applies_exactly_one():
    for _ in range(5):  # a few rounds, so both orders of arrival are likely exercised
        order = OrderFactory(awaiting_buyer=True)
        expected = S.PENDING_CUSTOMER_CONFIRMATION
        results = race(
            partial(
                services.order_confirm_received, order_id=order.pk, by=order.buyer, expected_status=expected
            ),
            partial(
                services.order_refund,
                order_id=order.pk,
                by=order.seller,
                reason="x",
                expected_status=expected,
            ),
        )
        winners = [r for r in results if isinstance(r, Order)]
        losers = [r for r in results if isinstance(r, ApplicationError)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], services.OrderChanged)
        order.refresh_from_db()
        assert order.status == winners[0].status
        assert losers[0].order.status == order.status
        assert StateLog.objects.for_(order).count() == 1


def test_two_tabs_posting_the_same_action_apply_it_once_and_the_loser_is_told():
    order = OrderFactory(paid=True)
    url = reverse("orders:seller_order_action", args=[order.pk, "mark-delivered"])

    def tab():
        client = Client()
        client.force_login(order.seller)
        # The page's HTML, not response.context: the test client collects context through
        # a process-wide signal, which two threads would mix up.
        return client.post(url, {"expected_status": "paid"}, follow=True).content.decode()

    pages = race(tab, tab)
    assert sum("Marked as delivered. The buyer has been asked to confirm." in p for p in pages) == 1
    assert sum("This order changed while you were looking at it" in p for p in pages) == 1
    order.refresh_from_db()
    assert (order.status, order.confirmation_round) == (S.PENDING_CUSTOMER_CONFIRMATION, 1)
    assert StateLog.objects.for_(order).count() == 1
