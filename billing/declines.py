"""
Telling a soft card decline (try again later) from a hard one (never try this card again).

`classify_stripe_error(payload)` is part of the product's public interface (DESIGN.md
section 5). `payload` is the JSON body Stripe returns for an error (`{"error": {...}}`) or
a PaymentIntent's `last_payment_error` object. The answer's `category` is one of:

- "hard": never retry this payment method; ask the customer for a new one.
- "customer_action": fail now, and tell the customer exactly what to fix.
- "soft": retry on the dunning schedule.
- "gateway": Stripe or the network did not answer properly; retry the *same* attempt with
  the *same* idempotency key, with backoff. Not a dunning attempt.
- "platform": Stripe refused the platform's own request (an amount below Stripe's minimum,
  a missing parameter, a refused or under-privileged API key, a reused idempotency key).
  Never the customer's fault: the card stays usable, nothing is counted against the
  customer, and the charge waits for staff.

Precedence (DESIGN.md 3.2): the card network's advice code, then Stripe's `advice_code`,
then `decline_code`, then the error's `code` and `type`. The network and the issuer know
more than a generic decline code, so their advice wins.

Sources:
- Stripe, "Decline codes": https://docs.stripe.com/declines/codes (the decline codes and
  their "next steps" below).
- Stripe, "Card declines" and the error object's `advice_code` (values `confirm_card_data`,
  `do_not_try_again`, `try_again_later`): https://docs.stripe.com/declines/card and
  https://docs.stripe.com/api/errors
- Stripe changelog 2024-12-18.acacia, "Adds network advice and decline codes"
  (`network_advice_code` on errors and `last_payment_error`).
- Mastercard Merchant Advice Codes as published by processors (e.g. Cybersource's
  `merchantAdviceCode` field reference, Checkout.com "Recommendation codes"): 01 updated
  information needed, 02 try again later, 03 do not try again, 21 payment cancellation
  (stop recurring), 24–30 retry after 1 h / 24 h / 2 / 4 / 6 / 8 / 10 days, 40 non-reloadable
  prepaid card, 43 multi-use virtual card number.

Checked against the card networks' reattempt rules (Visa's rules for declined
card-not-present transactions of 2021, as processors publish them: category 1 "issuer will
never approve", e.g. 04 pick up, 14/46 invalid or closed account, 41/43 lost or stolen, 57
not permitted, R0/R1/R3 stop payment orders, must never be retried; categories 2 "cannot
approve now" (e.g. 05, 51, 61, 65, 91, 96) and 3 "data quality" (e.g. 54, 82, N7) at most
15 times in 30 days; Mastercard: no retry after MAC 03 or 21, at most 10 tries of a card in
24 hours): every category-1 code here is hard; the soft ones are retried on the dunning
schedule, which allows at most 12 retries, days apart; the gateway's same-key resends are
one transaction at Stripe, not reattempts. Where this table is stricter than the networks
(restricted_card, fraudulent and card_velocity_exceeded stop at once), it errs towards not
charging a card the issuer is wary of.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import models


class DeclineCategory(models.TextChoices):
    """What a decline means for what we do next (the values are DESIGN.md section 5's)."""

    HARD = "hard", "Hard decline"
    CUSTOMER_ACTION = "customer_action", "Customer action needed"
    SOFT = "soft", "Soft decline"
    GATEWAY = "gateway", "Gateway trouble"
    PLATFORM = "platform", "Platform error: staff must act"


# The names callers have always used (declines.HARD, ...).
HARD = DeclineCategory.HARD
CUSTOMER_ACTION = DeclineCategory.CUSTOMER_ACTION
SOFT = DeclineCategory.SOFT
GATEWAY = DeclineCategory.GATEWAY
PLATFORM = DeclineCategory.PLATFORM
CATEGORIES = tuple(DeclineCategory)


@dataclass(frozen=True)
class Decline:
    category: DeclineCategory
    # Which field decided, and its value, e.g. ("decline_code", "insufficient_funds").
    source: str
    code: str
    # For the customer and the admin: what happened and what to do.
    message: str
    # Generic codes (do_not_honor, ...) are soft but retried only a few times.
    ambiguous: bool = False
    # The network's own "retry after" advice (Mastercard MAC 24–30), when it gave one.
    retry_after: timedelta | None = None

    @property
    def retryable(self) -> bool:
        return self.category in (SOFT, GATEWAY)


# --- card network advice (Mastercard Merchant Advice Codes) ------------------------------

_NETWORK_ADVICE = {
    "01": (CUSTOMER_ACTION, "The card network says the card details need updating."),
    "02": (SOFT, "The card network says to try again later."),
    "03": (HARD, "The card network says never to try this card again."),
    "21": (HARD, "The cardholder cancelled recurring payments with their bank."),
    "40": (HARD, "This is a non-reloadable prepaid card; it cannot be charged again."),
    "43": (HARD, "This is a single-use virtual card number; it cannot be charged again."),
}
_NETWORK_RETRY_AFTER = {
    "24": timedelta(hours=1),
    "25": timedelta(hours=24),
    "26": timedelta(days=2),
    "27": timedelta(days=4),
    "28": timedelta(days=6),
    "29": timedelta(days=8),
    "30": timedelta(days=10),
}

# --- Stripe's advice_code -------------------------------------------------------------

_ADVICE = {
    "do_not_try_again": (HARD, "The bank says not to try this card again."),
    "confirm_card_data": (CUSTOMER_ACTION, "The bank asks the customer to check or update the card details."),
    "try_again_later": (SOFT, "The bank asks to try again later."),
}

# --- Stripe's decline_code (also used for the error's `code` on card errors) ---------------

_HARD_DECLINES = {
    "lost_card": "The card was reported lost.",
    "stolen_card": "The card was reported stolen.",
    "pickup_card": "The bank asked for the card to be retained (it may be lost or stolen).",
    "fraudulent": "The payment was declined as suspected fraud.",
    "merchant_blacklist": "The payment was declined as suspected fraud.",
    "restricted_card": "The card cannot be used for this payment.",
    "security_violation": "The card cannot be used for this payment.",
    "revocation_of_authorization": "The cardholder stopped this recurring payment.",
    "revocation_of_all_authorizations": "The cardholder stopped all recurring payments on this card.",
    "stop_payment_order": "The cardholder stopped this payment with their bank.",
    "card_not_supported": "The card does not support this kind of payment.",
    "currency_not_supported": "The card does not support this currency.",
    "transaction_not_allowed": "The card does not allow this payment.",
    "not_permitted": "The payment is not permitted on this card.",
    "service_not_allowed": "The card does not allow this payment.",
    "invalid_account": "The card or its account is not valid.",
    "duplicate_transaction": "An identical payment was made very recently; it was not repeated.",
}
_CUSTOMER_ACTION_DECLINES = {
    "expired_card": "The card has expired. Add a card that is valid.",
    "incorrect_cvc": "The security code (CVC) is wrong. Check it, or add another card.",
    "invalid_cvc": "The security code (CVC) is wrong. Check it, or add another card.",
    "incorrect_number": "The card number is wrong. Check it, or add another card.",
    "invalid_number": "The card number is wrong. Check it, or add another card.",
    "invalid_expiry_month": "The expiry month is wrong. Check it, or add another card.",
    "invalid_expiry_year": "The expiry year is wrong. Check it, or add another card.",
    "incorrect_zip": "The postal code does not match the card. Check it, or add another card.",
    "incorrect_pin": "The PIN is wrong.",
    "invalid_pin": "The PIN is wrong.",
    "pin_try_exceeded": "Too many wrong PIN attempts. Use another card.",
    "offline_pin_required": "The card needs a PIN. Use another card.",
    "online_pin_required": "The card needs a PIN. Use another card.",
    "authentication_required": "The bank needs the customer to confirm this payment (3-D Secure).",
    "new_account_information_available": "The card details have changed. Add the card again.",
    "testmode_decline": "A test card was used for a real payment. Add a real card.",
    "card_velocity_exceeded": "The card's spending limit was reached. Use another card or contact the bank.",
}
_SOFT_DECLINES = {
    "insufficient_funds": "The card has insufficient funds.",
    "processing_error": "The bank had a processing error.",
    "issuer_not_available": "The bank could not be reached.",
    "try_again_later": "The bank asks to try again later.",
    "reenter_transaction": "The bank could not process the payment this time.",
    "approve_with_id": "The bank could not authorise the payment this time.",
    "withdrawal_count_limit_exceeded": "The card's transaction limit was reached for now.",
    "no_action_taken": "The bank declined without saying why.",
}
# Ambiguous: the issuer gave no reason. Soft, but with a tight retry cap.
_AMBIGUOUS_DECLINES = {
    "generic_decline": "The bank declined the payment without saying why.",
    "do_not_honor": "The bank declined the payment without saying why.",
    "call_issuer": "The bank declined the payment; the customer may need to call their bank.",
    "card_declined": "The bank declined the payment without saying why.",
    "unknown": "The bank declined the payment without saying why.",
}

_DECLINES = {
    **{code: (HARD, text) for code, text in _HARD_DECLINES.items()},
    **{code: (CUSTOMER_ACTION, text) for code, text in _CUSTOMER_ACTION_DECLINES.items()},
    **{code: (SOFT, text) for code, text in _SOFT_DECLINES.items()},
}

# --- error types (when no card-level code decides) --------------------------------------

_TYPES = {
    "api_connection_error": (GATEWAY, "Stripe could not be reached."),
    "api_error": (GATEWAY, "Stripe had a temporary problem."),
    "rate_limit_error": (GATEWAY, "Too many requests to Stripe; slowing down."),
    # The platform's own request was wrong: staff must act; never the customer's fault.
    "authentication_error": (PLATFORM, "Stripe refused the platform's API key."),
    "permission_error": (PLATFORM, "The platform's API key may not do this at Stripe."),
    "idempotency_error": (PLATFORM, "Stripe refused a reused idempotency key with different parameters."),
    "invalid_request_error": (PLATFORM, "Stripe refused the platform's request as invalid."),
}
_CODES = {
    "rate_limit": (GATEWAY, "Too many requests to Stripe; slowing down."),
    "amount_too_small": (PLATFORM, "The amount is below Stripe's minimum charge for this currency."),
    "amount_too_large": (PLATFORM, "The amount is above Stripe's maximum charge."),
    "api_key_expired": (PLATFORM, "The platform's Stripe API key has expired."),
    "lock_timeout": (GATEWAY, "Stripe was busy with another request for the same object."),
    "payment_intent_authentication_failure": (CUSTOMER_ACTION, "The customer did not complete 3-D Secure."),
    "payment_method_unactivated": (CUSTOMER_ACTION, "The payment method is not activated."),
    "resource_missing": (CUSTOMER_ACTION, "The saved payment method no longer exists. Add a card."),
}


def _error_body(payload: dict) -> dict:
    if not isinstance(payload, dict):
        return {}
    inner = payload.get("error", payload)
    return inner if isinstance(inner, dict) else {}


def classify_stripe_error(payload: dict) -> Decline:
    """Classify a Stripe error body (or a `last_payment_error`). An unreadable or empty
    payload is a gateway problem: nothing says the card was declined."""
    error = _error_body(payload)

    network_advice = str(error.get("network_advice_code") or "").strip()
    if network_advice in _NETWORK_ADVICE:
        category, message = _NETWORK_ADVICE[network_advice]
        return Decline(category, "network_advice_code", network_advice, message)
    if network_advice in _NETWORK_RETRY_AFTER:
        wait = _NETWORK_RETRY_AFTER[network_advice]
        return Decline(
            SOFT,
            "network_advice_code",
            network_advice,
            "The card network says to try again later.",
            retry_after=wait,
        )

    advice = error.get("advice_code")
    if advice in _ADVICE:
        category, message = _ADVICE[advice]
        return Decline(category, "advice_code", advice, message)

    for field in ("decline_code", "code"):
        code = error.get(field)
        if code in _DECLINES:
            category, message = _DECLINES[code]
            return Decline(category, field, code, message)
        if code in _AMBIGUOUS_DECLINES:
            return Decline(SOFT, field, code, _AMBIGUOUS_DECLINES[code], ambiguous=True)
        if field == "code" and code in _CODES:
            category, message = _CODES[code]
            return Decline(category, field, code, message)

    error_type = error.get("type")
    if error_type in _TYPES:
        category, message = _TYPES[error_type]
        return Decline(category, "type", error_type, message)
    if error_type == "card_error":
        # A card error with a code nobody documents: treat it like a generic decline.
        code = error.get("decline_code") or error.get("code") or "card_error"
        return Decline(
            SOFT, "type", code, "The bank declined the payment without saying why.", ambiguous=True
        )
    return Decline(
        GATEWAY, "type", error_type or "unknown", "Stripe's answer could not be read; trying again."
    )


_TO_THE_CUSTOMER = (
    ("The customer's", "Your"),
    ("the customer's", "your"),
    ("The customer", "You"),
    ("the customer", "you"),
    ("The cardholder", "You"),
    ("the cardholder", "you"),
    ("their bank", "your bank"),
    ("The card ", "Your card "),
    ("the card ", "your card "),
)


def decline_for_customer(message: str) -> str:
    """A decline message as said to the customer themselves ("The bank needs you to
    confirm this payment"), for the card page and receipts; the admin keeps the original."""
    for theirs, yours in _TO_THE_CUSTOMER:
        message = message.replace(theirs, yours)
    return message
