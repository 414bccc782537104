"""Stripe Connect payouts over HTTP against localstripe: a transfer per payout with its
idempotency key and transfer group; refusals and reversals fail the payout."""

from datetime import date

import pytest
import stripe
from django.core import mail

from payouts import services
from payouts.ledger import ledger_check
from payouts.models import Payout, PayoutAccount
from stripe_integration import connect as stripe_connect
from stripe_integration.webhooks import webhook_event_apply

from .conftest import utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def connect(payouts, stripe_server, django_capture_on_commit_callbacks):
    payouts.configure(provider="stripe_connect")

    def seller_with_account():
        seller = payouts.seller()
        account_id = stripe_connect.account_create(email=seller.email, idempotency_key=f"acct-{seller.email}")
        PayoutAccount.objects.create(seller=seller, stripe_account_id=account_id)
        return seller

    return seller_with_account


def _transfer(transfer_id):
    return stripe.Transfer.retrieve(transfer_id, api_key="sk_test_localstripe").to_dict()


def test_a_run_sends_one_transfer_per_payout_with_its_group_and_marks_it_paid(
    payouts, connect, django_capture_on_commit_callbacks
):
    seller = connect()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller, amount=10_000)
    with django_capture_on_commit_callbacks(execute=True):
        payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    assert payout.status == Payout.Status.PAID and payout.provider_reference.startswith("tr_")
    transfer = _transfer(payout.provider_reference)
    assert (transfer["amount"], transfer["currency"]) == (9_000, "usd")
    assert transfer["transfer_group"] == f"payout-2027-01-15-{seller.pk}"
    assert transfer["destination"] == PayoutAccount.objects.get(seller=seller).stripe_account_id
    assert ledger_check() == []


def test_a_resend_after_stripe_did_not_answer_uses_the_same_key_and_pays_once(
    payouts, connect, stripe_server
):
    seller = connect()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    stripe_server.fail_next(10, status=503, path="/v1/transfers")
    services.payout_submit_to_stripe(payout_id=payout.pk)
    assert Payout.objects.get().status == Payout.Status.PROCESSING  # unknown: not failed, not paid
    stripe_server.fail_next(0)
    # The first transfer may have been made before the gateway answered; a resend with
    # the payout's key must come back with that same transfer.
    first = stripe_connect.transfer_create(
        destination=PayoutAccount.objects.get(seller=seller).stripe_account_id,
        amount=payout.amount,
        currency="USD",
        transfer_group=payout.transfer_group,
        idempotency_key=payout.idempotency_key,
        metadata={"payout_id": str(payout.pk), "payout_date": "2027-01-15"},
    )
    assert services.payouts_submit() == 1
    payout = Payout.objects.get()
    assert payout.status == Payout.Status.PAID and payout.provider_reference == first["id"]


def test_a_seller_without_a_connected_account_is_not_paid_and_is_told(
    payouts, stripe_server, django_capture_on_commit_callbacks
):
    payouts.configure(provider="stripe_connect")
    order = payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.payouts_submit()
    payout = Payout.objects.get()
    assert payout.status == Payout.Status.FAILED and "connected a Stripe account" in payout.failure_reason
    assert mail.outbox[0].to == [order.seller.email]
    assert ledger_check() == []


def test_stripe_refusing_the_transfer_fails_the_payout_and_returns_the_money(payouts, stripe_server):
    payouts.configure(provider="stripe_connect")
    order = payouts.complete(at=utc(2027, 1, 5, 10))
    PayoutAccount.objects.create(seller=order.seller, stripe_account_id="acct_doesnotexist")
    payouts.run(date(2027, 1, 15))
    services.payouts_submit()
    payout = Payout.objects.get()
    assert payout.status == Payout.Status.FAILED and "No such destination" in payout.failure_reason
    assert ledger_check() == []


def test_a_reversed_transfer_fails_a_paid_payout_and_the_money_goes_out_again(payouts, connect):
    seller = connect()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    services.payouts_submit()
    payout = Payout.objects.get()
    stripe_connect.transfer_reverse(transfer_id=payout.provider_reference, idempotency_key=f"rev-{payout.pk}")
    event = {"type": "transfer.reversed", "data": {"object": _transfer(payout.provider_reference)}}
    assert webhook_event_apply(event) == f"payout #{payout.pk} failed"
    assert Payout.objects.get().status == Payout.Status.FAILED
    payouts.run(date(2027, 2, 1))
    assert Payout.objects.get(payout_date=date(2027, 2, 1)).amount == payout.amount
    assert ledger_check() == []
