import hashlib
import hmac
import json
import time

import pytest

from billing.models import Attempt, Invoice, WebhookEvent
from billing.services import charging

pytestmark = pytest.mark.django_db
URL = "/webhooks/stripe/"


def _signed(payload: dict, secret="whsec_localstripe", at=None):
    body = json.dumps(payload)
    at = int(time.time()) if at is None else at
    signature = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return body, f"t={at},v1={signature}"


def _post(client, payload, **kwargs):
    body, header = _signed(payload, **kwargs)
    return client.post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def _event(event_id, kind, obj):
    return {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}


@pytest.fixture
def lost_answer(billing, monkeypatch):
    """A charge that went through at Stripe whose answer never reached us."""
    customer = billing.customer(card="4242424242424242")
    real = charging.attempt_record
    monkeypatch.setattr(charging, "attempt_record", lambda **kw: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        billing.invoice(customer)
    monkeypatch.setattr(charging, "attempt_record", real)
    attempt = Attempt.objects.get()
    # The PaymentIntent Stripe made, found the way the event carries it: by our metadata.
    import stripe

    from billing import gateway

    gateway._configure()
    pi = next(
        p
        for p in stripe.PaymentIntent.list(api_key="sk_test_localstripe", limit=100).data
        if p.to_dict()["metadata"].get("attempt") == attempt.idempotency_key
    )
    return attempt, pi.to_dict()


@pytest.mark.parametrize(
    ("header", "message"),
    [(None, "Missing Stripe-Signature"), ("t=1,v1=deadbeef", "Bad signature"), ("nonsense", "Bad signature")],
)
def test_missing_and_invalid_signatures_are_refused(client, db, header, message):
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header else {}
    response = client.post(
        URL, data=json.dumps(_event("evt_1", "x", {})), content_type="application/json", **extra
    )
    assert response.status_code == 400 and message in response.json()["error"]
    assert WebhookEvent.objects.count() == 0


def test_a_wrong_secret_or_an_old_event_is_refused(client, db):
    assert _post(client, _event("evt_1", "x", {}), secret="whsec_other").status_code == 400
    response = _post(client, _event("evt_2", "x", {}), at=int(time.time()) - 301)
    assert response.status_code == 400 and "Bad signature" in response.json()["error"]
    assert WebhookEvent.objects.count() == 0


def test_only_post(client, db):
    assert client.get(URL).status_code == 405


def test_an_event_recovers_a_lost_answer_and_a_duplicate_is_a_no_op(client, lost_answer):
    attempt, pi = lost_answer
    event = _event("evt_ok", "payment_intent.succeeded", pi)

    first = _post(client, event)
    second = _post(client, event)

    assert first.status_code == 200 and first.json()["result"] == "recorded: done"
    assert second.status_code == 200 and second.json()["duplicate"] is True
    assert Invoice.objects.get().status == "settled"
    assert WebhookEvent.objects.filter(stripe_id="evt_ok").count() == 1


def test_events_out_of_order_end_in_the_right_state(client, lost_answer):
    """A stale 'processing' copy arriving after 'succeeded' changes nothing: the object is
    read again from Stripe."""
    attempt, pi = lost_answer
    stale = {**pi, "status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}}
    assert (
        _post(client, _event("evt_b", "payment_intent.payment_failed", stale)).json()["result"]
        == "recorded: done"
    )
    assert _post(client, _event("evt_a", "payment_intent.succeeded", pi)).json()["result"] == "up to date"
    assert Invoice.objects.get().status == "settled"
    assert Attempt.objects.get().outcome == "succeeded"


def test_an_event_about_someone_elses_payment_is_stored_and_ignored(client, billing):
    response = _post(
        client, _event("evt_x", "payment_intent.succeeded", {"id": "pi_unknown", "metadata": {}})
    )
    assert response.status_code == 200 and response.json()["result"] == "ignored: no attempt of ours"


def test_the_webhook_names_are_still_importable_from_billing():
    from billing import webhooks
    from stripe_integration import webhooks as moved

    assert (webhooks.stripe_webhook, webhooks.webhook_event_apply) == (
        moved.stripe_webhook,
        moved.webhook_event_apply,
    )
