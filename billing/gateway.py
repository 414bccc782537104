"""
The only module that talks to Stripe (stripe-python over HTTP to `STRIPE_API_BASE`).

Every money-moving call takes the idempotency key its Attempt row stored before the call.
A transport failure (connection error, timeout, 429, 5xx) is retried here, with the same
key and exponential backoff, a few times; if Stripe still does not answer properly the
call raises `GatewayUnavailable` and the attempt stays `unknown`, to be sent again with
the same key later. Only an answer Stripe actually gave becomes a `GatewayResult`.

Stripe limits request rates (https://docs.stripe.com/rate-limits: 100 operations per
second in live mode, 25 in test mode, and about 25 per second per endpoint by default), so
every call first takes a slot from a pacer (`STRIPE_MAX_REQUESTS_PER_SECOND`; 0 means no
pacing). With Redis (`STRIPE_PACER_URL`, or a Redis broker) the slots are shared by every
process that calls Stripe, so the rate is the platform's; without it each process paces
itself, and the loop's forks split the rate between them.
"""

import logging
import random
import threading
import time
from dataclasses import dataclass, field

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

# Patched by tests so that backoff never sleeps.
sleep = time.sleep


class GatewayUnavailable(Exception):
    """Stripe did not answer properly (after the in-call retries). Safe to resend with
    the same idempotency key."""

    def __init__(self, message, *, http_status=None, body=None):
        super().__init__(message)
        self.http_status = http_status
        self.body = body or {}


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


class RatePacer:
    """Spaces calls evenly, shared by the threads of one process: call n may start no
    sooner than n / rate seconds after the first. No bursts, so a limit counted per
    second on Stripe's side is never exceeded by the pacing itself."""

    def __init__(self, rate: float):
        self.rate = float(rate)
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            time.sleep(start - now)


class SharedRatePacer:
    """The same even spacing for every process that calls Stripe (the beat loop and its
    forks, the Celery workers), kept in Redis: each call reserves the next free slot with
    one atomic script on Redis's clock, then sleeps until it. If Redis cannot be reached
    the call falls back to this process's own pacer rather than not charging; a 429 from
    Stripe is still retried as transport trouble."""

    KEY = "marketplace:stripe-pacer:next-slot-us"
    # KEYS[1]: the next free slot (µs on Redis's clock); ARGV[1]: the interval in µs.
    # Returns the reserved slot and how long to wait for it. Microseconds since 1970 fit a
    # Lua number (a double) exactly; '%.0f' keeps every digit when they become strings.
    SCRIPT = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
    if slot < now then slot = now end
    local interval = tonumber(ARGV[1])
    redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', math.floor(interval / 1000) + 60000)
    return {string.format('%.0f', slot), slot - now}
    """

    def __init__(self, rate: float, url: str):
        import redis

        self.rate = float(rate)
        self.url = url
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._reserve = self._client.register_script(self.SCRIPT)
        self._fallback = RatePacer(rate)

    def reserve(self) -> tuple[int, float]:
        """Reserve the next slot: (the slot in µs on Redis's clock, seconds to wait)."""
        slot, wait_us = self._reserve(keys=[self.KEY], args=[max(1, round(1_000_000 / self.rate))])
        return int(slot), int(wait_us) / 1_000_000

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        try:
            _, wait = self.reserve()
        except Exception as exc:  # redis.RedisError and socket trouble alike
            logger.warning("Stripe pacing falls back to this process: Redis did not answer (%s)", exc)
            self._fallback.acquire()
            return
        if wait > 0:
            time.sleep(wait)


_pacer_lock = threading.Lock()
_pacer: RatePacer | SharedRatePacer | None = None


# A process started to share the loop's work takes 1/rate_share of the rate (only when
# there is no shared pacer).
rate_share = 1


def pacer_url() -> str:
    """Where the shared pacer lives: STRIPE_PACER_URL, else a Redis broker, else nowhere."""
    url = settings.STRIPE_PACER_URL or settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://")) else ""


def pacer() -> RatePacer | SharedRatePacer:
    global _pacer
    url = pacer_url()
    rate = float(settings.STRIPE_MAX_REQUESTS_PER_SECOND) / (1 if url else rate_share)
    with _pacer_lock:
        if _pacer is None or _pacer.rate != rate or getattr(_pacer, "url", "") != url:
            _pacer = SharedRatePacer(rate, url) if url and rate > 0 else RatePacer(rate)
        return _pacer


def _configure() -> dict:
    stripe.api_base = settings.STRIPE_API_BASE.rstrip("/")
    stripe.max_network_retries = 0  # we retry ourselves, with the same key
    if (
        not isinstance(stripe.default_http_client, stripe.RequestsClient)
        or getattr(stripe.default_http_client, "_timeout", None) != settings.STRIPE_TIMEOUT_SECONDS
    ):
        stripe.default_http_client = stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)
    return {"api_key": settings.STRIPE_SECRET_KEY}


def _is_transport(exc: stripe.StripeError) -> bool:
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return True
    status = exc.http_status or 0
    return status == 429 or status >= 500 or (isinstance(exc, stripe.APIError) and not status)


def _call(fn, *args, **params):
    """Call stripe-python with pacing and transport retries. Returns (object, calls)."""
    opts = _configure()
    retries = settings.STRIPE_TRANSPORT_RETRIES
    for number in range(retries + 1):
        pacer().acquire()
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
        ok=False, stripe_id=intent["id"], status=status, http_status=200, error=error, calls=calls
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
    """A PaymentIntent confirmed off-session with the customer's saved payment method."""
    try:
        intent, calls = _call(
            stripe.PaymentIntent.create,
            amount=amount,
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


def payment_intent_client_secret(stripe_id: str) -> tuple[str, str]:
    """A PaymentIntent's (status, client_secret), for the customer's browser to confirm it
    with their bank (Stripe.js `confirmCardPayment`)."""
    intent, _ = _call(stripe.PaymentIntent.retrieve, stripe_id)
    return intent["status"], intent["client_secret"]


def payment_intent_cancel(stripe_id: str) -> str:
    """Cancel a PaymentIntent that nobody should confirm any more; returns its status.
    Raises stripe.StripeError when Stripe refuses (it went through already, say)."""
    intent, _ = _call(stripe.PaymentIntent.cancel, stripe_id)
    return intent["status"]


def payment_intent_retrieve(stripe_id: str) -> GatewayResult:
    intent, calls = _call(stripe.PaymentIntent.retrieve, stripe_id)
    return payment_intent_result(intent, calls)


def refund(*, payment_intent_id: str, amount: int, idempotency_key: str, metadata: dict) -> GatewayResult:
    try:
        obj, calls = _call(
            stripe.Refund.create,
            payment_intent=payment_intent_id,
            amount=amount,
            metadata=metadata,
            idempotency_key=idempotency_key,
        )
    except stripe.StripeError as exc:
        return _error_result(exc)
    return _refund_result(obj, calls)


def _refund_result(obj, calls) -> GatewayResult:
    status = obj.get("status")
    ok = status in ("succeeded", "pending")
    error = (
        {}
        if ok
        else {
            "error": {
                "type": "invalid_request_error",
                "code": obj.get("failure_reason") or "refund_failed",
                "message": f"Stripe marked the refund {status}.",
            }
        }
    )
    return GatewayResult(ok=ok, stripe_id=obj["id"], status=status, http_status=200, error=error, calls=calls)


def setup_intent_create(*, customer_id: str) -> tuple[str, str]:
    """A SetupIntent for saving a card off-session; returns (id, client_secret)."""
    intent, _ = _call(
        stripe.SetupIntent.create, customer=customer_id, usage="off_session", payment_method_types=["card"]
    )
    return intent["id"], intent["client_secret"]


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


# --- Stripe Connect (payouts) -------------------------------------------------------------


def account_create(*, email: str, idempotency_key: str) -> str:
    """A connected account for a seller (an Express account); returns its acct_ id."""
    account, _ = _call(stripe.Account.create, type="express", email=email, idempotency_key=idempotency_key)
    return account["id"]


def transfer_create(
    *, destination: str, amount: int, currency: str, transfer_group: str, idempotency_key: str, metadata: dict
) -> dict:
    """Move money to a connected account. Raises stripe.StripeError when Stripe refuses,
    GatewayUnavailable when it does not answer (resend with the same key)."""
    transfer, _ = _call(
        stripe.Transfer.create,
        destination=destination,
        amount=amount,
        currency=currency.lower(),
        transfer_group=transfer_group,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    return transfer


def transfer_reverse(*, transfer_id: str, idempotency_key: str) -> dict:
    reversal, _ = _call(stripe.Transfer.create_reversal, transfer_id, idempotency_key=idempotency_key)
    return reversal
