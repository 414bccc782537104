"""
Stripe webhooks at /webhooks/stripe/.

The signature is checked on the raw body with the endpoint secret (Stripe's scheme:
https://docs.stripe.com/webhooks#verify-events), and an event older than 300 seconds is
refused, so a captured request cannot be replayed later. Each event is stored once by its
id; a duplicate is answered 200 and changes nothing. The event is then handed to the one
handler its type has (`events`); the handlers, in the apps that own what the event is
about, read the object's current state from Stripe again rather than trusting the
event's copy, so events that arrive late or out of order still end in the right state.

A correctly signed body that is not a well-formed event (not JSON, `data` not an object,
an `id` that is not an event id, text with NUL characters, which PostgreSQL cannot store),
or an event about an object Stripe does not know, is answered 400 and stored as failed
with the reason (Admin > Stripe integration > Webhook events), and changes nothing else.
An unsigned body is answered 400 and not stored: anyone can send one.
"""

import hashlib
import json
import logging
import re

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from marketplace.exceptions import ApplicationError

from .client import GatewayUnavailable
from .events import event_dispatch
from .models import WebhookEvent

logger = logging.getLogger(__name__)

# Stripe's event ids and types (https://docs.stripe.com/api/events/object).
EVENT_ID = re.compile(r"evt_[A-Za-z0-9_-]{1,251}")
EVENT_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")
NUL = "\x00"


def _refuse(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


# Deeper than any Stripe object; deeper still would only cost time to store and read.
MAX_DEPTH = 32


def _walk(value):
    """(depth, item) for every value, key and string in a JSON value, walked without
    recursion (a body may nest as deep as the JSON parser allows)."""
    stack = [(1, value)]
    while stack:
        depth, item = stack.pop()
        yield depth, item
        if isinstance(item, dict):
            stack.extend((depth + 1, part) for pair in item.items() for part in pair)
        elif isinstance(item, list):
            stack.extend((depth + 1, part) for part in item)


def event_problem(event) -> str | None:
    """Why a parsed, signed body is not an event that can be applied, or None."""
    if not isinstance(event, dict):
        return "The body is not a Stripe event (not a JSON object)."
    event_id, kind, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        return "The event has no valid id (evt_ followed by up to 251 letters, digits, - or _)."
    if not isinstance(kind, str) or len(kind) > 100 or not EVENT_TYPE.fullmatch(kind):
        return "The event has no valid type (such as payment_intent.succeeded)."
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "The event's data.object is not an object."
    object_id = data["object"].get("id")
    if object_id is not None and (not isinstance(object_id, str) or not 0 < len(object_id) <= 255):
        return "The event's object id is not a Stripe id."
    for depth, item in _walk(event):
        if depth > MAX_DEPTH:
            return f"The event nests deeper than {MAX_DEPTH} levels."
        if isinstance(item, str) and NUL in item:
            return "The event contains NUL characters, which no Stripe event has."
    return None


def _store_failed(payload: bytes, event, reason: str) -> None:
    """Keep a signed body that could not be applied, with why: under its event id when it
    has a usable one, else under a digest of the body, so that a resend finds the same row.
    The body is kept as text, without NUL characters (PostgreSQL cannot store them) and cut
    at 100,000 characters."""
    has_id = isinstance(event, dict) and isinstance(event.get("id"), str) and EVENT_ID.fullmatch(event["id"])
    stripe_id = event["id"] if has_id else "malformed:" + hashlib.sha256(payload).hexdigest()
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str) or len(kind) > 100 or not EVENT_TYPE.fullmatch(kind):
        kind = "(malformed)"
    body = payload.decode("utf-8", "replace").replace(NUL, "")[:100_000]
    failure = {"failed_at": timezone.now(), "failure_reason": reason}
    try:
        with transaction.atomic():
            row, created = WebhookEvent.objects.get_or_create(
                stripe_id=stripe_id, defaults={"type": kind, "payload": {"body": body}, **failure}
            )
    except IntegrityError:  # the same body arriving twice at the same moment
        row, created = WebhookEvent.objects.get(stripe_id=stripe_id), False
    if not created and row.processed_at is None:
        WebhookEvent.objects.filter(pk=row.pk).update(**failure)
    logger.warning("Stripe webhook %s refused: %s", stripe_id, reason)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        return _refuse("Missing Stripe-Signature header.")
    payload = request.body
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text,
            signature,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    except stripe.SignatureVerificationError as exc:
        return _refuse(f"Bad signature: {exc.user_message or exc}")
    except UnicodeDecodeError:
        return _refuse("The body is not UTF-8 text.")
    # Signed by Stripe's secret from here on: whatever is wrong is recorded for staff.
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        _store_failed(payload, None, "The body is not JSON.")
        return _refuse("The body is not JSON.")
    problem = event_problem(event)
    if problem:
        _store_failed(payload, event, problem)
        return _refuse(problem)

    try:
        with transaction.atomic():
            row, created = WebhookEvent.objects.get_or_create(
                stripe_id=event["id"], defaults={"type": event["type"], "payload": event}
            )
    except IntegrityError:  # the same event arriving twice at the same moment
        row, created = WebhookEvent.objects.get(stripe_id=event["id"]), False
    if not created and row.processed_at is not None:
        return JsonResponse({"received": True, "duplicate": True})
    try:
        result = webhook_event_apply(event)
    except GatewayUnavailable:
        # Stripe retries webhooks that fail; the stored row makes the retry safe.
        return _refuse("Could not read the object from Stripe; try again.", status=503)
    except stripe.InvalidRequestError as exc:
        reason = f"Stripe does not know the event's object: {exc.user_message or exc}"
        return _failed(row, reason)
    except ApplicationError as exc:
        return _failed(row, exc.message)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # A signed event whose object is not shaped as its type says (a field missing or
        # of the wrong kind). Logged in full for ops; answered 400, since sending it again
        # cannot help.
        logger.exception("Stripe webhook %s could not be applied", event["id"])
        return _failed(row, f"The event's object is malformed: {type(exc).__name__}: {exc}"[:1000])
    WebhookEvent.objects.filter(pk=row.pk).update(
        processed_at=timezone.now(), result=result[:300], failed_at=None, failure_reason=""
    )
    return JsonResponse({"received": True, "result": result})


def _failed(row: WebhookEvent, reason: str) -> JsonResponse:
    WebhookEvent.objects.filter(pk=row.pk).update(failed_at=timezone.now(), failure_reason=reason)
    logger.warning("Stripe webhook %s failed: %s", row.stripe_id, reason)
    return _refuse(reason)


def webhook_event_apply(event: dict) -> str:
    """Apply one event with the handler registered for its type; returns what was done,
    for the record ("ignored: event type not used" when no app handles the type)."""
    return event_dispatch(event)
