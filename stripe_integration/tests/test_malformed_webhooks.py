"""Correctly signed but malformed Stripe events: answered 400, stored as failed with the
reason (shown in the admin), and nothing else changes."""

import hashlib
import hmac
import json
import time

import pytest

from stripe_integration.models import WebhookEvent

pytestmark = pytest.mark.django_db
URL = "/webhooks/stripe/"


def _post_body(client, body: str, secret="whsec_localstripe"):
    at = int(time.time())
    signature = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return client.post(
        URL,
        data=body.encode(),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={at},v1={signature}",
    )


def _post(client, event):
    return _post_body(client, json.dumps(event))


def _failed_row(stripe_id=None) -> WebhookEvent:
    row = WebhookEvent.objects.get() if stripe_id is None else WebhookEvent.objects.get(stripe_id=stripe_id)
    assert row.processed_at is None and row.failed_at is not None
    return row


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("a string", "The event's data.object is not an object."),
        (["a", "list"], "The event's data.object is not an object."),
        ({"object": "pi_123"}, "The event's data.object is not an object."),
        ({"object": {"id": ["pi_123"]}}, "The event's object id is not a Stripe id."),
    ],
)
def test_signed_events_whose_data_is_not_an_object_answer_400_and_are_stored_as_failed(client, data, reason):
    response = _post(client, {"id": "evt_bad_data", "type": "payment_intent.succeeded", "data": data})

    assert response.status_code == 400 and response.json()["error"] == reason
    row = _failed_row("evt_bad_data")
    assert row.failure_reason == reason and row.type == "payment_intent.succeeded"


@pytest.mark.parametrize("event_id", [["evt_1", "evt_2"], "evt_" + "x" * 10_000, "", None, 42])
def test_signed_events_with_an_unusable_id_answer_400_and_are_stored_under_a_digest(client, event_id):
    body = json.dumps({"id": event_id, "type": "payment_intent.succeeded", "data": {"object": {}}})

    response = _post_body(client, body)
    again = _post_body(client, body)  # Stripe sends a failed event again: still one row

    assert response.status_code == 400 == again.status_code
    assert "no valid id" in response.json()["error"]
    row = _failed_row()
    assert row.stripe_id == "malformed:" + hashlib.sha256(body.encode()).hexdigest()
    assert row.payload == {"body": body}


def test_an_event_about_an_object_stripe_does_not_know_answers_400_and_is_stored_as_failed(
    client, stripe_server
):
    event = {
        "id": "evt_unknown_dispute",
        "type": "charge.dispute.created",
        "data": {"object": {"id": "dp_does_not_exist", "object": "dispute"}},
    }

    response = _post(client, event)

    assert response.status_code == 400
    row = _failed_row("evt_unknown_dispute")
    assert row.failure_reason.startswith("Stripe does not know the event's object")
    assert row.payload == event


def test_nul_characters_are_refused_cleanly_and_the_body_is_stored_without_them(client):
    event = {
        "id": "evt_nul",
        "type": "customer.created",
        "data": {"object": {"id": "cus_1", "description": "lost \u0000 broken"}},
    }
    body = json.dumps(event)
    assert "\\u0000" in body

    response = _post_body(client, body)

    assert response.status_code == 400
    assert response.json()["error"] == "The event contains NUL characters, which no Stripe event has."
    row = _failed_row("evt_nul")
    assert row.payload == {"body": body}  # the escape as text: storable on PostgreSQL


def test_a_body_nested_too_deeply_is_refused(client):
    deep = {}
    for _ in range(200):
        deep = {"a": deep}
    response = _post(client, {"id": "evt_deep", "type": "customer.created", "data": {"object": deep}})
    assert response.status_code == 400 and "nests deeper than" in response.json()["error"]
    _failed_row("evt_deep")


def test_a_signed_body_that_is_not_json_is_stored_as_failed(client):
    response = _post_body(client, '{"id": "evt_cut", "type": "customer.created", "da')
    assert response.status_code == 400 and response.json()["error"] == "The body is not JSON."
    assert _failed_row().failure_reason == "The body is not JSON."


def test_an_unsigned_body_is_refused_and_not_stored(client):
    response = _post_body(
        client, json.dumps({"id": "evt_x", "type": "x", "data": "a string"}), secret="whsec_wrong"
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_staff_see_failed_events_and_why_in_the_admin(client, admin_client):
    _post(client, {"id": "evt_shown", "type": "payment_intent.succeeded", "data": "a string"})
    _post(client, {"id": "evt_fine", "type": "customer.created", "data": {"object": {"id": "cus_1"}}})

    listing = admin_client.get("/admin/stripe_integration/webhookevent/?outcome=failed").content.decode()

    assert "evt_shown" in listing and "failed: The event&#x27;s data.object is not an object." in listing
    assert "evt_fine" not in listing
