"""
Stripe webhooks at /webhooks/stripe/.

The signature is checked on the raw body with the endpoint secret (Stripe's scheme:
https://docs.stripe.com/webhooks#verify-events), and an event older than 300 seconds is
refused, so a captured request cannot be replayed later. Each event is stored once by its
id; a duplicate is answered 200 and changes nothing. The event is then handed to the one
handler its type has (`events`); the handlers, in the apps that own what the event is
about, read the object's current state from Stripe again rather than trusting the
event's copy, so events that arrive late or out of order still end in the right state.
"""

import json
import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .client import GatewayUnavailable
from .events import event_dispatch
from .models import WebhookEvent

logger = logging.getLogger(__name__)


def _refuse(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        return _refuse("Missing Stripe-Signature header.")
    payload = request.body
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        return _refuse(f"Bad signature: {exc.user_message or exc}")
    except (UnicodeDecodeError, ValueError):
        return _refuse("The body is not JSON.")
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        return _refuse("The body is not a Stripe event.")

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
    WebhookEvent.objects.filter(pk=row.pk).update(processed_at=timezone.now(), result=result[:300])
    return JsonResponse({"received": True, "result": result})


def webhook_event_apply(event: dict) -> str:
    """Apply one event with the handler registered for its type; returns what was done,
    for the record ("ignored: event type not used" when no app handles the type)."""
    return event_dispatch(event)
