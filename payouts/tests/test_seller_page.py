from datetime import date

import pytest
import time_machine

from accounts.tests.factories import BuyerFactory
from payouts import services
from payouts.models import Payout

from .conftest import utc

pytestmark = pytest.mark.django_db


def test_the_seller_sees_balances_next_payout_upcoming_earnings_adjustments_and_history(
    client, payouts, admin_user
):
    seller = payouts.seller()
    paid_then_refunded = payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=10_000)
    payouts.run(date(2027, 1, 15))
    services.payout_mark_paid(payout_id=Payout.objects.get().pk, by=admin_user, reference="BANK-1")
    payouts.refund(paid_then_refunded, at=utc(2027, 1, 16, 9), reason="Arrived broken")
    payouts.complete(at=utc(2027, 1, 16, 10), seller=seller, amount=30_000)  # available Jan 23, paid Feb 1
    with time_machine.travel(utc(2027, 1, 20, 12)):
        client.force_login(seller)
        page = client.get("/seller/payouts/").content.decode()
    assert "Pending" in page and "$270.00" in page  # the new sale, not yet available
    assert "-$90.00" in page and "Arrived broken" in page  # the clawback, with its reason
    assert "<strong>$180.00</strong> on <strong>1 Feb 2027</strong>" in page
    assert "23 Jan 2027" in page and "1 Feb 2027" in page
    assert "BANK-1" in page and "Paid" in page
    assert 'class="bar"' in page


def test_a_seller_with_a_negative_balance_is_told_why_nothing_is_coming(client, payouts):
    seller = payouts.seller()
    order = payouts.complete(at=utc(2027, 1, 1, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    payouts.refund(order, at=utc(2027, 1, 16, 9))
    with time_machine.travel(utc(2027, 1, 20, 12)):
        client.force_login(seller)
        page = client.get("/seller/payouts/").content.decode()
    assert "Your balance is below zero" in page


def test_the_next_payout_honours_each_currencys_own_minimum(client, payouts):
    payouts.configure(
        platform_fee_bps=0, minimum_payout_amount=2_500, minimum_payout_by_currency={"JPY": 3_000}
    )
    seller = payouts.seller()
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=2_500, currency="JPY")
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=3_000, currency="USD")
    with time_machine.travel(utc(2027, 1, 10, 12)):
        client.force_login(seller)
        page = client.get("/seller/payouts/").content.decode()
    assert "<strong>$30.00</strong> on <strong>15 Jan 2027</strong>" in page
    assert "Below the minimum payout" in page and "<strong>¥2,500</strong>" not in page


def test_buyers_cannot_open_the_payouts_page(client):
    client.force_login(BuyerFactory())
    assert client.get("/seller/payouts/").status_code == 403
