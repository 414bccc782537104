"""The Stripe gateway over HTTP against the suite's localstripe."""

import pytest
import stripe

from billing import gateway, services
from billing.models import Attempt, PaymentMethod, Transaction
from billing.services import charging

pytestmark = pytest.mark.django_db


def _stripe_payment_intents(customer):
    gateway._configure()
    everything = stripe.PaymentIntent.list(api_key="sk_test_localstripe", limit=100).data
    return [pi for pi in everything if pi.customer == customer.stripe_customer_id]


def test_a_good_card_is_charged_once_and_the_invoice_settles(billing):
    customer = billing.customer(card="4242424242424242")
    invoice = billing.invoice(customer, amount=2599)

    assert invoice.status == "settled"
    (charge,) = billing.charges(invoice)
    assert charge.status == "done" and charge.stripe_id.startswith("pi_")
    (attempt,) = charge.attempts.all()
    assert attempt.outcome == "succeeded" and attempt.http_status == 200
    intents = _stripe_payment_intents(customer)
    assert [(pi.id, pi.amount, pi.status) for pi in intents] == [(charge.stripe_id, 2599, "succeeded")]


def test_a_declined_card_keeps_stripes_raw_codes_and_its_reading(billing):
    customer = billing.customer(card="4000000000009995")
    invoice = billing.invoice(customer)

    attempt = Attempt.objects.get(transaction__invoice=invoice)
    assert (attempt.http_status, attempt.error_type, attempt.code, attempt.decline_code) == (
        402,
        "card_error",
        "card_declined",
        "insufficient_funds",
    )
    assert attempt.category == "soft"
    assert attempt.stripe_id.startswith("pi_")
    assert attempt.decision.startswith("soft: the card has insufficient funds, next try on ")
    assert invoice.status == "processing"


def test_a_card_that_needs_authentication_asks_the_customer(billing, mailoutbox):
    customer = billing.customer(card="4000002500003155")
    invoice = billing.invoice(customer)

    attempt = Attempt.objects.get(transaction__invoice=invoice)
    assert attempt.category == "customer_action"
    assert attempt.code == "authentication_required"
    assert invoice.status == "process_failed"
    assert "authentication" not in PaymentMethod.objects.get().unusable_reason  # the card itself is fine
    assert mailoutbox[-1].subject.startswith("Confirm the payment of $10.00")
    assert "/billing/card/" in mailoutbox[-1].body


def test_full_refund(billing):
    invoice = billing.invoice(billing.customer(card="4242424242424242"), amount=5000)
    with billing.capture(execute=True):
        refund = services.invoice_refund(invoice_id=invoice.pk, reason="Damaged")

    invoice = billing.fresh(invoice)
    refund = Transaction.objects.get(pk=refund.pk)
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 5000)
    assert refund.status == "done" and refund.stripe_id.startswith("re_")
    gateway._configure()
    assert stripe.Refund.retrieve(refund.stripe_id, api_key="sk_test_localstripe").amount == 5000


def test_partial_refunds_go_back_to_settled_until_everything_is_refunded(billing):
    invoice = billing.invoice(billing.customer(card="4242424242424242"), amount=5000)
    with billing.capture(execute=True):
        services.invoice_refund(invoice_id=invoice.pk, amount=1200, reason="Late")
    invoice = billing.fresh(invoice)
    assert (invoice.status, invoice.amount_refunded) == ("settled", 1200)

    with pytest.raises(services.ApplicationError, match=r"At most \$38.00"):
        services.invoice_refund(invoice_id=invoice.pk, amount=3801, reason="Too much")
    with billing.capture(execute=True):
        services.invoice_refund(invoice_id=invoice.pk, reason="The rest")
    invoice = billing.fresh(invoice)
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 5000)


def test_gateway_trouble_retries_the_same_attempt_with_the_same_key(billing, settings):
    customer = billing.customer(card="4242424242424242")
    settings.STRIPE_TRANSPORT_RETRIES = 2
    billing.server.fail_next(3, status=503, path="/v1/payment_intents")  # more than one call's retries
    invoice = billing.invoice(customer)

    (charge,) = billing.charges(invoice)
    (attempt,) = charge.attempts.all()
    assert invoice.status == "processing"
    assert charge.status == "init" and charge.failure_count == 0  # not a dunning attempt
    assert attempt.outcome == "unknown" and attempt.calls == 3 and attempt.http_status == 503
    assert charge.next_attempt_at > attempt.started_at

    billing.run(now=charge.next_attempt_at)  # Stripe is back

    invoice = billing.fresh(invoice)
    (attempt_after,) = Attempt.objects.filter(transaction=charge)
    assert invoice.status == "settled"
    assert attempt_after.idempotency_key == attempt.idempotency_key and attempt_after.outcome == "succeeded"
    assert len(_stripe_payment_intents(customer)) == 1


def test_a_429_is_retried_inside_the_call(billing):
    customer = billing.customer(card="4242424242424242")
    billing.server.fail_next(1, status=429, path="/v1/payment_intents")
    invoice = billing.invoice(customer)
    (attempt,) = Attempt.objects.filter(transaction__invoice=invoice)
    assert invoice.status == "settled" and attempt.calls == 2


def test_a_crash_after_the_call_resends_the_same_key_and_charges_once(billing, monkeypatch):
    """The process dies after Stripe charged the card but before the answer was saved."""
    customer = billing.customer(card="4242424242424242")
    real_record = charging.attempt_record

    def crash(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(charging, "attempt_record", crash)
    with pytest.raises(SystemExit):
        billing.invoice(customer)
    monkeypatch.setattr(charging, "attempt_record", real_record)
    (attempt,) = Attempt.objects.all()
    assert attempt.outcome == "unknown"

    report = billing.run(now=attempt.started_at + services.IN_FLIGHT_GRACE * 2)

    assert report.results == {"done": 1}
    attempt = Attempt.objects.get()
    assert attempt.outcome == "succeeded"
    assert len(_stripe_payment_intents(customer)) == 1


def test_idempotent_replay_answers_like_stripe(stripe_server, settings):
    gateway._configure()
    customer = stripe.Customer.create(api_key="sk_test_localstripe")
    kwargs = dict(
        amount=700,
        currency="usd",
        customer=customer.id,
        payment_method=stripe_server.card(),
        confirm=True,
        off_session=True,
        api_key="sk_test_localstripe",
        idempotency_key="same-key-1",
    )
    first = stripe.PaymentIntent.create(**kwargs)
    second = stripe.PaymentIntent.create(**kwargs)
    assert first.id == second.id
    with pytest.raises(stripe.IdempotencyError):
        stripe.PaymentIntent.create(**{**kwargs, "amount": 800})
