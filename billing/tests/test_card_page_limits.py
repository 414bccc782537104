"""The card page cannot be used to make the platform call Stripe: opening it makes no
SetupIntent, typing a card makes or reuses one per invoice and card attempt, every
Stripe call it causes counts against a per-invoice limit, and no answer is cached."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.links import card_update_token
from billing.models import CardPageStripeCall, Invoice
from stripe_integration import client as stripe_client

from .test_card_page import _bank_answers, _confirm_setup

pytestmark = pytest.mark.django_db


def _url(invoice):
    return f"/billing/card/{card_update_token(invoice)}/"


@pytest.fixture
def stripe_calls(monkeypatch):
    """Every call the product makes to Stripe, by stripe-python function name."""
    made = []
    real = stripe_client._call

    def counting(fn, *args, **params):
        made.append(getattr(fn, "__qualname__", repr(fn)))
        return real(fn, *args, **params)

    monkeypatch.setattr(stripe_client, "_call", counting)
    return made


def _setup(client, invoice):
    return client.post(_url(invoice) + "setup/")


def test_opening_the_link_fifty_times_calls_stripe_zero_times(client, billing, stripe_calls):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    stripe_calls.clear()

    for _ in range(50):
        assert client.get(_url(invoice)).status_code == 200

    assert stripe_calls == []


def test_typing_a_card_makes_one_setup_intent_and_every_later_start_reuses_it(client, billing, stripe_calls):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    stripe_calls.clear()

    secrets = {_setup(client, invoice).json()["client_secret"] for _ in range(4)}

    assert len(secrets) == 1
    assert stripe_calls.count("SetupIntent.create") == 1
    assert stripe_calls.count("SetupIntent.retrieve") == 3  # still open at Stripe: reused


def test_a_saved_card_ends_the_attempt_and_the_next_card_gets_a_new_setup_intent(client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009995"), amount=1000)
    first = _setup(client, invoice).json()["client_secret"]
    setup = _confirm_setup(first, "4000000000009995")  # saves fine, declined when charged
    with billing.capture(execute=True):
        client.post(_url(invoice), {"setup_intent": setup["id"]})

    second = _setup(client, invoice).json()["client_secret"]

    assert second.split("_secret_")[0] != setup["id"]


def test_a_setup_confirmed_in_a_tab_that_was_closed_is_not_offered_again(client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    first = _setup(client, invoice).json()["client_secret"]
    _confirm_setup(first, "4242424242424242")  # confirmed at Stripe, never posted back

    second = _setup(client, invoice).json()["client_secret"]

    assert second != first


def test_the_page_and_its_setup_answer_are_never_stored_by_a_browser_or_proxy(client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    for response in (
        client.get(_url(invoice)),
        _setup(client, invoice),
        client.get("/billing/card/tampered/"),
    ):
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


def test_a_link_cannot_make_the_platform_call_stripe_more_than_ten_times_a_minute(
    client, billing, stripe_calls
):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    stripe_calls.clear()
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        answers = [_setup(client, invoice) for _ in range(20)]
        page = client.post(_url(invoice), {"setup_intent": "seti_whatever"})

    assert [a.status_code for a in answers] == [200] * 10 + [429] * 10
    assert answers[-1].json()["error"] == (
        "This page has asked the payment service too often in the last minute. Wait a minute, then try again."
    )
    assert page.status_code == 429 and "too often in the last minute" in page.content.decode()
    assert len(stripe_calls) == 10
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert _setup(client, invoice).status_code == 200
    assert len(stripe_calls) == 11


def test_a_page_waiting_for_the_bank_shown_fifty_times_asks_stripe_nothing_and_writes_nothing(
    client, billing, stripe_calls
):
    # A mail scanner, or a customer reloading while the bank's check is open elsewhere:
    # neither may use up the Stripe calls the customer's own actions need.
    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    stripe_calls.clear()

    with CaptureQueriesContext(connection) as queries:
        pages = [client.get(_url(invoice)) for _ in range(50)]

    assert [p.status_code for p in pages] == [200] * 50
    assert all("Confirm the payment of $10.00" in p.content.decode() for p in pages)
    assert stripe_calls == []
    writes = [
        q["sql"] for q in queries if re.match(r"\s*(INSERT|UPDATE|DELETE)|.*FOR UPDATE", q["sql"], re.S)
    ]
    assert writes == []
    assert not CardPageStripeCall.objects.filter(invoice=invoice).exists()
    # The customer's action still has its whole budget: confirming is one call, and works.
    offer = pages[-1].context["authenticate"]
    _bank_answers(offer["client_secret"], confirmed=True)
    with billing.capture(execute=True):
        client.post(_url(invoice), {"payment_intent": offer["payment_intent"]})
    assert Invoice.objects.get(pk=invoice.pk).status == "settled"


def test_the_limit_belongs_to_the_invoice_whatever_link_is_used(client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        links = [_url(invoice)]
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        links.append(_url(invoice))
        assert links[0] != links[1]
        assert all(client.post(links[n % 2] + "setup/").status_code == 200 for n in range(10))
        assert client.post(links[1] + "setup/").status_code == 429
