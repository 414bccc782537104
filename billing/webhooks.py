"""
Stripe webhooks at /webhooks/stripe/.

The signature is checked on the raw body with the endpoint secret (Stripe's scheme:
https://docs.stripe.com/webhooks#verify-events), and an event older than 300 seconds is
refused, so a captured request cannot be replayed later. Each event is stored once by its
id; a duplicate is answered 200 and changes nothing. An event is applied by reading the
object's current state from Stripe again, never by trusting the event's copy, so events
that arrive late or out of order still end in the right state.
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

from . import gateway
from .models import Attempt, WebhookEvent
from .services import attempt_reconcile_success, attempt_record

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
    except gateway.GatewayUnavailable:
        # Stripe retries webhooks that fail; the stored row makes the retry safe.
        return _refuse("Could not read the object from Stripe; try again.", status=503)
    WebhookEvent.objects.filter(pk=row.pk).update(processed_at=timezone.now(), result=result[:300])
    return JsonResponse({"received": True, "result": result})


def _attempt_for(obj: dict) -> Attempt | None:
    key = (obj.get("metadata") or {}).get("attempt")
    query = (
        Attempt.objects.filter(idempotency_key=key)
        if key
        else Attempt.objects.filter(stripe_id=obj.get("id", ""))
    )
    return query.select_related("transaction").first()


def webhook_event_apply(event: dict) -> str:
    """Apply one event by re-reading its object; returns what was done, for the record."""
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind.startswith("payment_intent."):
        attempt = _attempt_for(obj)
        if attempt is None:
            return "ignored: no attempt of ours"
        current = gateway.payment_intent_retrieve(obj["id"])
        if attempt.outcome == Attempt.Outcome.UNKNOWN:
            if current.status in ("requires_confirmation", "processing"):
                return f"waiting: payment is {current.status}"
            return f"recorded: {attempt_record(attempt_id=attempt.pk, result=current)}"
        if current.ok and attempt.outcome != Attempt.Outcome.SUCCEEDED:
            return f"reconciled: {attempt_reconcile_success(attempt_id=attempt.pk, result=current)}"
        return "up to date"
    if kind.startswith("refund.") or kind == "charge.refunded":
        refund_obj = obj if obj.get("object") == "refund" else None
        refunds = [refund_obj] if refund_obj else ((obj.get("refunds") or {}).get("data") or [])
        results = []
        for item in refunds:
            attempt = _attempt_for(item)
            if attempt is None or attempt.outcome != Attempt.Outcome.UNKNOWN:
                continue
            current = gateway.refund_retrieve(item["id"])
            results.append(attempt_record(attempt_id=attempt.pk, result=current))
        return f"refunds recorded: {results}" if results else "up to date"
    if kind in ("transfer.reversed", "transfer.failed"):
        from payouts.services import payout_transfer_reversed

        payout = payout_transfer_reversed(
            transfer_id=obj.get("id", ""), reason=f"Stripe reports the transfer {kind.split('.')[1]}."
        )
        return f"payout #{payout.pk} failed" if payout else "ignored: no payout of ours"
    return "ignored: event type not used"
