"""The local Stripe server's disputes, over HTTP with stripe-python, as billing will use them."""

import pytest
import stripe

KEY = "sk_test_localstripe"


@pytest.fixture
def paid_intent(stripe_server):
    stripe.api_base = stripe_server.url
    customer = stripe.Customer.create(email="buyer@example.com", api_key=KEY)
    card = stripe_server.card()
    stripe.PaymentMethod.attach(card, customer=customer.id, api_key=KEY)
    intent = stripe.PaymentIntent.create(
        amount=2500,
        currency="usd",
        customer=customer.id,
        payment_method=card,
        confirm=True,
        off_session=True,
        api_key=KEY,
    )
    assert intent.status == "succeeded"
    return intent


def test_a_disputed_charge_can_be_read_back_and_listed_by_its_payment_intent(stripe_server, paid_intent):
    opened = stripe_server.dispute(paid_intent.id, amount=1000, reason="product_not_received")

    dispute = stripe.Dispute.retrieve(opened["id"], api_key=KEY)
    assert (dispute.status, dispute.amount, dispute.currency) == ("needs_response", 1000, "usd")
    assert dispute.payment_intent == paid_intent.id and dispute.reason == "product_not_received"
    assert dispute.balance_transactions[0]["fee"] == 1500
    assert [d.id for d in stripe.Dispute.list(payment_intent=paid_intent.id, api_key=KEY).data] == [
        dispute.id
    ]


@pytest.mark.parametrize(("evidence", "status"), [("winning_evidence", "won"), ("losing_evidence", "lost")])
def test_evidence_closes_a_dispute_won_or_lost_once(stripe_server, paid_intent, evidence, status):
    opened = stripe_server.dispute(paid_intent.id)
    closed = stripe.Dispute.modify(opened["id"], evidence={"uncategorized_text": evidence}, api_key=KEY)
    assert closed.status == status and closed.amount == 2500
    with pytest.raises(stripe.InvalidRequestError, match="already closed"):
        stripe.Dispute.close(opened["id"], api_key=KEY)


def test_a_dispute_for_more_than_its_charge_is_refused(stripe_server, paid_intent):
    with pytest.raises(Exception, match="400"):
        stripe_server.dispute(paid_intent.id, amount=2501)
