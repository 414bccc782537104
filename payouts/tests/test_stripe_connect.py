"""Stripe Connect payouts over HTTP against localstripe: a transfer per payout with its
idempotency key and transfer group; refusals and reversals fail the payout; a transfer
whose outcome is unknown is checked with Stripe before it may be failed, and never paid
twice."""

from datetime import date, timedelta

import pytest
import stripe
import time_machine
from django.utils import timezone

from payouts import ledger, services
from payouts.ledger import ledger_check
from payouts.models import LedgerAccount, Payout, PayoutAccount
from stripe_integration import connect as stripe_connect
from stripe_integration.webhooks import webhook_event_apply

from .conftest import utc
from .factories import PayoutAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connect(payouts, stripe_server, django_capture_on_commit_callbacks):
    stripe_server.flush()  # transfers are looked up by group and payout id, which tests reuse
    payouts.configure(provider="stripe_connect")

    def seller_with_account():
        return payouts.stripe_seller(stripe_server)

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


def test_a_payout_is_not_sent_once_stripe_no_longer_lets_its_seller_be_paid(payouts, connect):
    seller = connect()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    # Between the run and the send, Stripe disabled payouts to the account (it needs
    # more from the seller): nothing is sent, the money waits in the balance.
    PayoutAccount.objects.filter(seller=seller).update(
        stripe_payouts_enabled=False, stripe_requirements_due=["individual.verification.document"]
    )
    services.payouts_submit()
    payout = Payout.objects.get()
    assert (
        payout.status == Payout.Status.CANCELED and "stripe does not allow payouts" in payout.failure_reason
    )
    assert stripe_connect.transfers_in_group(transfer_group=payout.transfer_group) == []
    assert ledger_check() == []
    PayoutAccount.objects.filter(seller=seller).update(stripe_payouts_enabled=True)
    payouts.run(date(2027, 2, 1))
    assert Payout.objects.get(payout_date=date(2027, 2, 1)).amount == payout.amount


def test_stripe_refusing_the_transfer_fails_the_payout_and_returns_the_money(payouts, stripe_server):
    payouts.configure(provider="stripe_connect")
    seller = PayoutAccountFactory(
        provider="stripe_connect", stripe_account_id="acct_doesnotexist", stripe_payouts_enabled=True
    ).seller
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
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


# --- transfers whose outcome is unknown ---------------------------------------------------


def _transfers_for(payout):
    """What Stripe has in the payout's transfer group."""
    return stripe.Transfer.list(
        transfer_group=payout.transfer_group, limit=100, api_key="sk_test_localstripe"
    ).to_dict()["data"]


def _transfers_to(seller):
    account = PayoutAccount.objects.get(seller=seller).stripe_account_id
    return stripe.Transfer.list(destination=account, limit=100, api_key="sk_test_localstripe").to_dict()[
        "data"
    ]


def _seller_balance(seller, currency="USD"):
    key = ledger.account_key(LedgerAccount.Kind.SELLER_BALANCE, currency, seller.pk)
    return LedgerAccount.objects.get(key=key).balance


def _admin_action(admin_client, action, payout, **data):
    """Run a payouts admin action on one payout; returns the messages staff see."""
    post = {"action": action, "_selected_action": [payout.pk], **data}
    if "reason" in data:
        post["apply"] = "1"
    response = admin_client.post("/admin/payouts/payout/", post, follow=True)
    return [str(m) for m in response.context["messages"]]


def _sent_with_answers_lost(payouts, connect, stripe_server, settings, *, reached_stripe):
    seller = connect()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    tries = settings.STRIPE_TRANSPORT_RETRIES + 1  # every in-call retry loses its answer too
    if reached_stripe:
        stripe_server.lose_answers(tries, path="/v1/transfers")
    else:
        stripe_server.fail_next(tries, status=503, path="/v1/transfers")
    services.payout_submit_to_stripe(payout_id=payout.pk)
    payout = Payout.objects.get(pk=payout.pk)
    assert (payout.status, payout.provider_reference) == (Payout.Status.PROCESSING, "")
    return seller, payout


def test_a_transfer_whose_answer_was_lost_is_found_by_checking_with_stripe_and_paid_once(
    payouts, connect, stripe_server, settings, admin_client, django_capture_on_commit_callbacks
):
    seller, payout = _sent_with_answers_lost(payouts, connect, stripe_server, settings, reached_stripe=True)
    [transfer] = _transfers_for(payout)  # Stripe made it; the answer never came back

    shown = _admin_action(admin_client, "mark_failed", payout, reason="Stripe did not answer")
    assert f"{payout}: {services.CHECK_WITH_STRIPE_FIRST.format(pk=payout.pk)}" in shown
    shown = _admin_action(admin_client, "cancel", payout, reason="Stripe did not answer")
    assert f"{payout}: {services.CHECK_WITH_STRIPE_FIRST.format(pk=payout.pk)}" in shown
    assert Payout.objects.get().status == Payout.Status.PROCESSING
    assert _seller_balance(seller) == 0

    shown = _admin_action(admin_client, "check_with_stripe", payout)
    assert shown == [
        f"Stripe has transfer {transfer['id']} for payout #{payout.pk}: recorded, and the payout is marked paid."
    ]
    payout = Payout.objects.get(pk=payout.pk)
    assert (payout.status, payout.provider_reference) == (Payout.Status.PAID, transfer["id"])

    # Neither the next payout run nor the 15-minute resubmit pays it again.
    with django_capture_on_commit_callbacks(execute=True):
        payouts.run(date(2027, 2, 1))
    assert services.payouts_submit() == 0
    assert Payout.objects.count() == 1 and _seller_balance(seller) == 0
    assert [t["id"] for t in _transfers_to(seller)] == [transfer["id"]]
    assert ledger_check() == []


def test_the_resubmit_finds_a_transfer_whose_answer_was_lost_instead_of_sending_it_again(
    payouts, connect, stripe_server, settings
):
    seller, payout = _sent_with_answers_lost(payouts, connect, stripe_server, settings, reached_stripe=True)
    stripe_server.flush_idempotency_keys()  # Stripe forgets keys after 24 hours
    assert services.payouts_submit() == 1
    payout = Payout.objects.get(pk=payout.pk)
    [transfer] = _transfers_to(seller)
    assert (payout.status, payout.provider_reference) == (Payout.Status.PAID, transfer["id"])
    assert ledger_check() == []


def test_checking_several_payouts_with_stripe_checks_every_one_first_and_changes_none_when_one_is_refused(
    payouts, connect, stripe_server, settings, admin_client
):
    seller, lost = _sent_with_answers_lost(payouts, connect, stripe_server, settings, reached_stripe=True)
    payouts.complete(at=utc(2027, 1, 5, 11), seller=connect())
    payouts.run(date(2027, 2, 1))  # its transfer not sent yet
    scheduled = Payout.objects.get(payout_date=date(2027, 2, 1))

    response = admin_client.post(
        "/admin/payouts/payout/",
        {"action": "check_with_stripe", "_selected_action": [lost.pk, scheduled.pk]},
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert shown == [
        f"Payout #{scheduled.pk}: Payout #{scheduled.pk} has not been sent to Stripe yet: "
        "there is no transfer to check.",
        "Nothing was changed: fix or unselect the rows above and try again.",
    ]
    lost = Payout.objects.get(pk=lost.pk)
    assert (lost.status, lost.provider_reference) == (Payout.Status.PROCESSING, "")


@pytest.mark.parametrize("then", ["mark_failed", "resend"])
def test_a_lost_transfer_that_never_reached_stripe_is_failed_or_resent_only_after_the_check(
    payouts, connect, stripe_server, settings, admin_client, django_capture_on_commit_callbacks, then
):
    seller, payout = _sent_with_answers_lost(payouts, connect, stripe_server, settings, reached_stripe=False)
    shown = _admin_action(admin_client, "mark_failed", payout, reason="Stripe did not answer")
    assert f"{payout}: {services.CHECK_WITH_STRIPE_FIRST.format(pk=payout.pk)}" in shown
    # Right after sending, a transfer not listed yet may still be on its way.
    [message] = _admin_action(admin_client, "check_with_stripe", payout)
    assert message.startswith(f"Stripe has no transfer for payout #{payout.pk} yet")
    assert services.transfer_outcome_unknown(Payout.objects.get())

    # (Travel from now, not to the payout date: the admin's session must stay valid.)
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        [message] = _admin_action(admin_client, "check_with_stripe", payout)
        assert message.startswith(f"Stripe has no transfer for payout #{payout.pk}. It will be sent again")
        assert _transfers_to(seller) == []
        if then == "mark_failed":
            _admin_action(admin_client, "mark_failed", payout, reason="Stripe has no transfer")
            assert Payout.objects.get().status == Payout.Status.FAILED
            assert _seller_balance(seller) == payout.amount  # back in the balance
            with django_capture_on_commit_callbacks(execute=True):
                payouts.run(date(2027, 2, 1))
            again = Payout.objects.get(payout_date=date(2027, 2, 1))
            assert again.status == Payout.Status.PAID and again.amount == payout.amount
            [transfer] = _transfers_to(seller)
            assert transfer["id"] == again.provider_reference
        else:
            assert services.payouts_submit() == 1
            payout = Payout.objects.get(pk=payout.pk)
            [transfer] = _transfers_to(seller)
            assert (payout.status, payout.provider_reference) == (Payout.Status.PAID, transfer["id"])
    assert _seller_balance(seller) == 0
    assert ledger_check() == []


def test_a_409_in_progress_answer_leaves_the_payout_processing_and_the_next_submit_pays_it_once(
    payouts, connect, stripe_server, settings
):
    seller = connect()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    stripe_server.in_progress_next(settings.STRIPE_TRANSPORT_RETRIES + 1, path="/v1/transfers")
    services.payout_submit_to_stripe(payout_id=payout.pk)
    payout = Payout.objects.get(pk=payout.pk)
    assert (payout.status, payout.failure_reason, payout.transfer_problem) == (
        Payout.Status.PROCESSING,
        "",
        "",
    )
    assert services.transfer_outcome_unknown(payout)

    assert services.payouts_submit() == 1
    payout = Payout.objects.get(pk=payout.pk)
    [transfer] = _transfers_to(seller)
    assert (payout.status, payout.provider_reference) == (Payout.Status.PAID, transfer["id"])
    assert services.payouts_submit() == 0
    assert len(_transfers_to(seller)) == 1
    assert ledger_check() == []


def test_a_key_stripe_refuses_for_other_parameters_holds_the_payout_for_staff_instead_of_failing_it(
    payouts, connect, admin_client
):
    seller = connect()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    # The key was used before, with other parameters.
    stripe_connect.transfer_create(
        destination=PayoutAccount.objects.get(seller=seller).stripe_account_id,
        amount=100,
        currency="USD",
        transfer_group="someone-else",
        idempotency_key=payout.idempotency_key,
        metadata={},
    )
    services.payout_submit_to_stripe(payout_id=payout.pk)
    payout = Payout.objects.get(pk=payout.pk)
    assert payout.status == Payout.Status.PROCESSING and payout.failure_reason == ""
    assert "can only be used with the same parameters" in payout.transfer_problem
    assert services.payouts_submit() == 0  # not resent while held
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        [message] = _admin_action(admin_client, "check_with_stripe", payout)
        assert message.startswith(
            f"Stripe has no transfer for payout #{payout.pk}. It is held: Stripe refused"
        )
        _admin_action(admin_client, "mark_failed", payout, reason="Key reused: paid again next date")
    assert Payout.objects.get().status == Payout.Status.FAILED
    assert ledger_check() == []


def test_two_transfers_for_one_payout_are_reported_loudly_and_the_first_is_recorded(
    payouts, connect, stripe_server, settings, admin_client
):
    seller, payout = _sent_with_answers_lost(payouts, connect, stripe_server, settings, reached_stripe=True)
    [first] = _transfers_for(payout)
    second = stripe_connect.transfer_create(
        destination=PayoutAccount.objects.get(seller=seller).stripe_account_id,
        amount=payout.amount,
        currency="USD",
        transfer_group=payout.transfer_group,
        idempotency_key=f"{payout.idempotency_key}-again",
        metadata={"payout_id": str(payout.pk), "payout_date": "2027-01-15"},
    )
    [message] = _admin_action(admin_client, "check_with_stripe", payout)
    assert message.startswith(
        f"Stripe has 2 transfers for payout #{payout.pk} ({first['id']}, {second['id']}): "
        "the seller was paid 2 times."
    )
    assert "reverse the others at Stripe" in message
    payout = Payout.objects.get(pk=payout.pk)
    assert (payout.status, payout.provider_reference) == (Payout.Status.PAID, first["id"])
    assert ledger_check() == []
