"""The classifier against error bodies shaped as Stripe documents them
(https://docs.stripe.com/api/errors, https://docs.stripe.com/declines/codes)."""

from datetime import timedelta

import pytest

from billing import declines
from billing.declines import CATEGORIES, DeclineCategory, classify_stripe_error
from billing.models import Attempt, Transaction


def card_error(
    decline_code=None, *, code="card_declined", advice_code=None, network_advice_code=None, **extra
):
    error = {
        "type": "card_error",
        "code": code,
        "message": "Your card was declined.",
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "charge": "ch_3Pq0000000000000",
        "payment_intent": {
            "id": "pi_3Pq0000000000000",
            "object": "payment_intent",
            "status": "requires_payment_method",
        },
        **extra,
    }
    for key, value in [
        ("decline_code", decline_code),
        ("advice_code", advice_code),
        ("network_advice_code", network_advice_code),
    ]:
        if value is not None:
            error[key] = value
    return {"error": error}


@pytest.mark.parametrize(
    ("decline_code", "category"),
    [
        ("lost_card", "hard"),
        ("stolen_card", "hard"),
        ("pickup_card", "hard"),
        ("fraudulent", "hard"),
        ("restricted_card", "hard"),
        ("revocation_of_authorization", "hard"),
        ("expired_card", "customer_action"),
        ("incorrect_cvc", "customer_action"),
        ("incorrect_number", "customer_action"),
        ("authentication_required", "customer_action"),
        ("insufficient_funds", "soft"),
        ("processing_error", "soft"),
        ("issuer_not_available", "soft"),
        ("try_again_later", "soft"),
    ],
)
def test_documented_decline_codes_fall_in_their_class(decline_code, category):
    decline = classify_stripe_error(card_error(decline_code))
    assert (decline.category, decline.source, decline.code) == (category, "decline_code", decline_code)
    assert decline.retryable is (category == "soft")


@pytest.mark.parametrize("decline_code", ["generic_decline", "do_not_honor", "call_issuer"])
def test_ambiguous_codes_are_soft_with_a_tight_cap(decline_code):
    decline = classify_stripe_error(card_error(decline_code))
    assert decline.category == "soft" and decline.ambiguous


@pytest.mark.parametrize(
    ("advice_code", "category"),
    [("do_not_try_again", "hard"), ("confirm_card_data", "customer_action"), ("try_again_later", "soft")],
)
def test_stripe_advice_code_overrides_an_ambiguous_decline_code(advice_code, category):
    decline = classify_stripe_error(card_error("do_not_honor", advice_code=advice_code))
    assert (decline.category, decline.source) == (category, "advice_code")
    assert not decline.ambiguous


def test_advice_do_not_try_again_makes_even_insufficient_funds_hard():
    assert (
        classify_stripe_error(card_error("insufficient_funds", advice_code="do_not_try_again")).category
        == "hard"
    )


@pytest.mark.parametrize(
    ("mac", "category"), [("03", "hard"), ("21", "hard"), ("01", "customer_action"), ("02", "soft")]
)
def test_the_network_advice_code_wins_over_everything_else(mac, category):
    body = card_error("insufficient_funds", advice_code="try_again_later", network_advice_code=mac)
    decline = classify_stripe_error(body)
    assert (decline.category, decline.source, decline.code) == (category, "network_advice_code", mac)


@pytest.mark.parametrize(
    ("mac", "wait"), [("24", timedelta(hours=1)), ("25", timedelta(hours=24)), ("30", timedelta(days=10))]
)
def test_mastercard_retry_after_codes_are_soft_and_say_when(mac, wait):
    decline = classify_stripe_error(card_error("generic_decline", network_advice_code=mac))
    assert (decline.category, decline.retry_after) == ("soft", wait)


def test_a_last_payment_error_object_is_read_like_an_error_body():
    last_payment_error = card_error("stolen_card")["error"]
    assert classify_stripe_error(last_payment_error).category == "hard"


def test_authentication_required_without_a_decline_code_is_read_from_code():
    body = card_error(code="authentication_required")
    decline = classify_stripe_error(body)
    assert (decline.category, decline.source) == ("customer_action", "code")


@pytest.mark.parametrize(
    ("body", "category"),
    [
        ({"error": {"type": "api_error", "message": "An unknown error occurred"}}, "gateway"),
        (
            {"error": {"type": "rate_limit_error", "code": "rate_limit", "message": "Too many requests"}},
            "gateway",
        ),
        ({"error": {"type": "api_connection_error"}}, "gateway"),
        (
            {"error": {"type": "invalid_request_error", "code": "parameter_missing", "param": "amount"}},
            "platform",
        ),
        ({"error": {"type": "invalid_request_error", "code": "amount_too_small"}}, "platform"),
        ({"error": {"type": "authentication_error", "message": "Invalid API Key"}}, "platform"),
        ({"error": {"type": "permission_error"}}, "platform"),
        ({"error": {"type": "idempotency_error"}}, "platform"),
        (
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "payment_method",
                }
            },
            "customer_action",
        ),
        ({}, "gateway"),
        ({"error": "garbage"}, "gateway"),
    ],
)
def test_error_types_decide_when_no_card_code_does(body, category):
    assert classify_stripe_error(body).category == category


def test_an_undocumented_card_decline_is_soft_and_ambiguous_rather_than_an_error():
    decline = classify_stripe_error(card_error("some_new_code_stripe_adds_next_year", code="card_declined"))
    assert decline.category == "soft" and decline.ambiguous


def test_every_answer_has_one_of_the_four_categories_and_a_message_for_people():
    for body in [card_error("lost_card"), card_error("expired_card"), card_error("insufficient_funds"), {}]:
        decline = classify_stripe_error(body)
        assert decline.category in CATEGORIES and decline.message.endswith(".")


def test_a_stolen_card_is_hard_under_the_names_old_and_new():
    body = {"error": {"type": "card_error", "code": "card_declined", "decline_code": "stolen_card"}}
    category = classify_stripe_error(body).category
    assert category == "hard"
    assert category is DeclineCategory.HARD is declines.HARD
    assert category.label == "Hard decline"


def test_the_recorded_categories_are_the_classifier_s_choices():
    for field in (Attempt._meta.get_field("category"), Transaction._meta.get_field("last_category")):
        assert [value for value, _ in field.choices] == [
            "hard",
            "customer_action",
            "soft",
            "gateway",
            "platform",
        ]
