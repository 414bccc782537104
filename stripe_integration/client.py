"""
The stripe-python calls (over HTTP to `STRIPE_API_BASE`): customers, cards, payments,
refunds. Connect accounts and transfers are in `connect`, the pacing in `pacer`.

Every money-moving call takes the idempotency key its caller stored before the call.
A transport failure (connection error, timeout, 429, 5xx) is retried here, with the same
key and exponential backoff, a few times; if Stripe still does not answer properly the
call raises `GatewayUnavailable` and the caller's attempt stays `unknown`, to be sent
again with the same key later. A 409 `idempotency_error` ("another request with this key
is in progress") (any 409) is treated the same way: the first request is still running at Stripe,
so it is neither a success nor a refusal. Only an answer Stripe actually gave becomes a
`GatewayResult`.
"""

import logging
import random
import time
from dataclasses import dataclass, field

import requests
import stripe
import urllib3
from django.conf import settings

from marketplace.exceptions import GatewayUnavailable
from marketplace.money import to_stripe_amount

from . import pacer as pacing

logger = logging.getLogger(__name__)

# Patched by tests so that backoff never sleeps.
sleep = time.sleep


@dataclass
class GatewayResult:
    ok: bool
    # The PaymentIntent or Refund id, when Stripe created one.
    stripe_id: str = ""
    status: str = ""
    http_status: int | None = None
    # The Stripe error body ({"error": {...}}) or a PaymentIntent's last_payment_error.
    error: dict = field(default_factory=dict)
    calls: int = 1
    # A PaymentIntent the bank wants the customer to confirm: what Stripe.js needs for it.
    client_secret: str = ""


class _PacedWrite:
    """Takes the call's turn from the pacer at the last moment, as the request is written
    to the socket, and tells the pacer when it was written: what Stripe's limiter counts
    is when requests arrive, and a thread on a busy machine can wait a long time between
    stripe-python building a request and sending it."""

    def request(self, *args, **kwargs):
        turn = pacing.pacer()
        turn.acquire(held=True)
        try:
            return super().request(*args, **kwargs)
        finally:
            turn.sent()


class _PacedHTTPConnection(_PacedWrite, urllib3.connection.HTTPConnection):
    pass


class _PacedHTTPSConnection(_PacedWrite, urllib3.connection.HTTPSConnection):
    pass


class _PacedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PacedHTTPConnection


class _PacedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PacedHTTPSConnection


class _PacedAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PacedHTTPPool, "https": _PacedHTTPSPool}


class _PacedRequestsClient(stripe.RequestsClient):
    """stripe-python's requests client, each thread's session writing through the pacer."""

    def _request_internal(self, *args, **kwargs):
        if getattr(self._thread_local, "session", None) is None:
            session = requests.Session()
            session.mount("http://", _PacedAdapter())
            session.mount("https://", _PacedAdapter())
            self._thread_local.session = session
        return super()._request_internal(*args, **kwargs)


def _configure() -> dict:
    stripe.api_base = settings.STRIPE_API_BASE.rstrip("/")
    stripe.max_network_retries = 0  # we retry ourselves, with the same key
    if (
        not isinstance(stripe.default_http_client, _PacedRequestsClient)
        or getattr(stripe.default_http_client, "_timeout", None) != settings.STRIPE_TIMEOUT_SECONDS
    ):
        stripe.default_http_client = _PacedRequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)
    return {"api_key": settings.STRIPE_SECRET_KEY}


def _is_transport(exc: stripe.StripeError) -> bool:
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return True
    status = exc.http_status or 0
    if status == 409:
        # Conflict: another request with this idempotency key is still in progress at
        # Stripe (`idempotency_error`). No answer yet; stripe-python makes it an APIError.
        return True
    return status == 429 or status >= 500 or (isinstance(exc, stripe.APIError) and not status)


def _call(fn, *args, **params):
    """Call stripe-python with transport retries (each request paced as it is written).
    Returns (object, calls)."""
    opts = _configure()
    retries = settings.STRIPE_TRANSPORT_RETRIES
    for number in range(retries + 1):
        try:
            obj = fn(*args, **opts, **params)
            # Plain dicts from here on: stripe-python 16's objects are not dicts.
            return (obj.to_dict() if hasattr(obj, "to_dict") else obj), number + 1
        except stripe.StripeError as exc:
            if not _is_transport(exc):
                exc.calls = number + 1
                raise
            last = exc
            logger.warning("Stripe transport trouble (%s, call %s): %s", exc.http_status, number + 1, exc)
            if number < retries:
                base = settings.STRIPE_RETRY_BACKOFF_SECONDS * (2**number)
                sleep(base + random.uniform(0, base / 2))
    raise GatewayUnavailable(
        str(last.user_message or last), http_status=last.http_status, body=last.json_body or {}
    )


def _error_result(exc: stripe.StripeError) -> GatewayResult:
    body = exc.json_body or {"error": {"message": str(exc)}}
    inner = body.get("error") or {}
    pi = inner.get("payment_intent") or {}
    return GatewayResult(
        ok=False,
        stripe_id=pi.get("id", "") if isinstance(pi, dict) else "",
        status=pi.get("status", "") if isinstance(pi, dict) else "",
        client_secret=(pi.get("client_secret") or "")
        if isinstance(pi, dict) and pi.get("status") == "requires_action"
        else "",
        http_status=exc.http_status,
        error=body,
        calls=getattr(exc, "calls", 1),
    )


def payment_intent_result(intent, calls=1) -> GatewayResult:
    """Read a PaymentIntent's current state as a result."""
    status = intent["status"]
    if status == "succeeded" or status == "processing":
        return GatewayResult(ok=True, stripe_id=intent["id"], status=status, http_status=200, calls=calls)
    if status == "requires_action":
        error = {
            "error": {
                "type": "card_error",
                "code": "authentication_required",
                "decline_code": "authentication_required",
                "message": "The bank needs the customer to confirm this payment.",
            }
        }
    else:
        last = intent.get("last_payment_error") or {}
        error = (
            {"error": dict(last)}
            if last
            else {
                "error": {"type": "card_error", "code": "card_declined", "message": "The card was declined."}
            }
        )
    return GatewayResult(
        ok=False,
        stripe_id=intent["id"],
        status=status,
        http_status=200,
        error=error,
        calls=calls,
        client_secret=(intent.get("client_secret") or "") if status == "requires_action" else "",
    )


# --- customers and payment methods -----------------------------------------------------


def customer_create(*, email: str, user_id: int, idempotency_key: str) -> str:
    customer, _ = _call(
        stripe.Customer.create,
        email=email,
        metadata={"user_id": str(user_id)},
        idempotency_key=idempotency_key,
    )
    return customer["id"]


@dataclass(frozen=True)
class CardDetails:
    stripe_id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    fingerprint: str


def payment_method_attach(*, payment_method_id: str, customer_id: str) -> CardDetails:
    """Attach a PaymentMethod made in the browser to the customer and read its card."""
    pm, _ = _call(stripe.PaymentMethod.attach, payment_method_id, customer=customer_id)
    card = pm.get("card") or {}
    return CardDetails(
        stripe_id=pm["id"],
        brand=card.get("brand") or "",
        last4=card.get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        fingerprint=card.get("fingerprint") or "",
    )


# --- money -----------------------------------------------------------------------------


def charge(
    *,
    amount: int,
    currency: str,
    customer_id: str,
    payment_method_id: str,
    idempotency_key: str,
    metadata: dict,
) -> GatewayResult:
    """A PaymentIntent confirmed off-session with the customer's saved payment method.
    `amount` is in ISO 4217 minor units; Stripe gets it in its own units."""
    try:
        intent, calls = _call(
            stripe.PaymentIntent.create,
            amount=to_stripe_amount(amount, currency),
            currency=currency.lower(),
            customer=customer_id,
            payment_method=payment_method_id,
            confirm=True,
            off_session=True,
            metadata=metadata,
            idempotency_key=idempotency_key,
        )
    except stripe.StripeError as exc:
        return _error_result(exc)
    return payment_intent_result(intent, calls)


def payment_intent_cancel(stripe_id: str) -> str:
    """Cancel a PaymentIntent that nobody should confirm any more; returns its status.
    Raises stripe.StripeError when Stripe refuses (it went through already, say)."""
    intent, _ = _call(stripe.PaymentIntent.cancel, stripe_id)
    return intent["status"]


def payment_intent_retrieve(stripe_id: str) -> GatewayResult:
    intent, calls = _call(stripe.PaymentIntent.retrieve, stripe_id)
    return payment_intent_result(intent, calls)


def refund(
    *, payment_intent_id: str, amount: int, currency: str, idempotency_key: str, metadata: dict
) -> GatewayResult:
    """Refund `amount` (ISO 4217 minor units of `currency`) of a PaymentIntent."""
    try:
        obj, calls = _call(
            stripe.Refund.create,
            payment_intent=payment_intent_id,
            amount=to_stripe_amount(amount, currency),
            metadata=metadata,
            idempotency_key=idempotency_key,
        )
    except stripe.StripeError as exc:
        return _error_result(exc)
    return _refund_result(obj, calls)


def dispute_object(stripe_id: str) -> dict:
    """A Dispute as Stripe has it now (amounts in Stripe's units)."""
    obj, _ = _call(stripe.Dispute.retrieve, stripe_id)
    return obj


def refund_object(stripe_id: str) -> dict:
    """A Refund as Stripe has it now (amount in Stripe's units)."""
    obj, _ = _call(stripe.Refund.retrieve, stripe_id)
    return obj


# A refund in these states is neither made nor refused yet: Stripe settles it later
# (`refund.updated`), and only `succeeded` means the buyer gets the money.
REFUND_WAITING = ("pending", "requires_action")

# Stripe's `failure_reason` of a refund that failed after it was pending, in words.
REFUND_FAILURE_REASONS = {
    "charge_for_pending_refund_disputed": "the buyer's bank disputed the payment while the refund was pending",
    "declined": "the buyer's bank declined the refund",
    "expired_or_canceled_card": "the buyer's card has expired or was canceled",
    "insufficient_funds": "the platform's Stripe balance was too low to pay it",
    "lost_or_stolen_card": "the buyer's card was reported lost or stolen",
    "merchant_request": "it was canceled at Stripe",
    "unknown": "Stripe gave no reason",
}


def _refund_result(obj, calls) -> GatewayResult:
    """A Refund as a result: `ok` only once it succeeded; a pending one is `waiting` (no
    error: the answer is not known yet); a failed or canceled one carries why."""
    status = obj.get("status")
    ok = status == "succeeded"
    error = {}
    if not ok and status not in REFUND_WAITING:
        reason = obj.get("failure_reason") or ""
        words = REFUND_FAILURE_REASONS.get(reason, reason.replace("_", " "))
        error = {
            "error": {
                "type": "invalid_request_error",
                "code": reason or "refund_failed",
                "message": f"Stripe marked the refund {status}" + (f": {words}." if words else "."),
            }
        }
    return GatewayResult(ok=ok, stripe_id=obj["id"], status=status, http_status=200, error=error, calls=calls)


def refund_waiting(result: GatewayResult) -> bool:
    """A refund Stripe has taken but not settled yet (`pending`): not confirmed."""
    return not result.ok and result.status in REFUND_WAITING


def setup_intent_create(*, customer_id: str, idempotency_key: str, metadata: dict | None = None) -> dict:
    """A SetupIntent for saving a card off-session (its id, status, customer and
    client_secret). The key makes a request sent twice (a double click) make one."""
    intent, _ = _call(
        stripe.SetupIntent.create,
        customer=customer_id,
        usage="off_session",
        payment_method_types=["card"],
        metadata=metadata or {},
        idempotency_key=idempotency_key,
    )
    return intent


def setup_intent_retrieve(stripe_id: str) -> dict:
    """A SetupIntent as Stripe has it now (status, customer, client_secret)."""
    intent, _ = _call(stripe.SetupIntent.retrieve, stripe_id)
    return intent


def setup_intent_payment_method(*, setup_intent_id: str, customer_id: str) -> str:
    """The card a succeeded SetupIntent of this customer saved, or ValueError."""
    intent, _ = _call(stripe.SetupIntent.retrieve, setup_intent_id)
    if intent.get("customer") != customer_id:
        raise ValueError("The card setup belongs to someone else.")
    if intent.get("status") != "succeeded" or not intent.get("payment_method"):
        raise ValueError("The card was not confirmed.")
    pm = intent["payment_method"]
    return pm if isinstance(pm, str) else pm["id"]


def refund_retrieve(stripe_id: str) -> GatewayResult:
    obj, calls = _call(stripe.Refund.retrieve, stripe_id)
    return _refund_result(obj, calls)
