"""The /webhooks/stripe/ endpoint over HTTP: every signed event is stored once and handed
to the handler its type has in the table."""

import hashlib
import hmac
import json
import time
import uuid
from datetime import date

import pytest
import stripe

from payouts import services as payouts_services
from payouts.ledger import ledger_check
from payouts.models import Payout
from payouts.tests.conftest import Payouts, utc
from stripe_integration import connect
from stripe_integration.models import WebhookEvent

pytestmark = pytest.mark.django_db
URL = "/webhooks/stripe/"


def _post(client, event, secret="whsec_localstripe"):
    body = json.dumps(event)
    at = int(time.time())
    signature = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=f"t={at},v1={signature}"
    )


def _event(event_id, kind, obj):
    return {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}


def test_an_event_of_a_type_nobody_handles_is_ignored_and_stored_once(client):
    event = _event("evt_unused", "customer.created", {"id": "cus_1", "object": "customer"})

    first = _post(client, event)
    second = _post(client, event)

    assert first.status_code == 200 and first.json()["result"] == "ignored: event type not used"
    assert second.status_code == 200 and second.json()["duplicate"] is True
    row = WebhookEvent.objects.get()
    assert (row.stripe_id, row.type, row.result) == (
        "evt_unused",
        "customer.created",
        "ignored: event type not used",
    )
    assert row.processed_at is not None


def test_a_transfer_reversed_over_http_fails_its_payout_through_the_table(client, stripe_server):
    payouts = Payouts()
    payouts.configure(provider="stripe_connect")
    seller = payouts.stripe_seller(stripe_server)
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    payouts_services.payouts_submit()
    payout = Payout.objects.get()
    assert payout.status == Payout.Status.PAID
    connect.transfer_reverse(transfer_id=payout.provider_reference, idempotency_key=f"rev-{uuid.uuid4()}")
    transfer = stripe.Transfer.retrieve(payout.provider_reference, api_key="sk_test_localstripe").to_dict()

    response = _post(client, _event("evt_reversed", "transfer.reversed", transfer))

    assert response.status_code == 200 and response.json()["result"] == f"payout #{payout.pk} failed"
    failed = Payout.objects.get(pk=payout.pk)
    assert failed.status == Payout.Status.FAILED
    assert failed.failure_reason == "Stripe reports the transfer reversed."
    assert WebhookEvent.objects.get().result == f"payout #{payout.pk} failed"
    assert ledger_check() == []


def test_stored_events_are_in_the_admin(admin_client):
    _post(client=admin_client, event=_event("evt_admin", "customer.created", {"id": "cus_2"}))
    listing = admin_client.get("/admin/stripe_integration/webhookevent/")
    assert listing.status_code == 200 and "evt_admin" in listing.content.decode()


def test_staff_cannot_add_or_edit_an_event_only_stripe_sends(admin_client):
    _post(client=admin_client, event=_event("evt_readonly", "customer.created", {"id": "cus_3"}))
    listing = admin_client.get("/admin/stripe_integration/webhookevent/").content.decode()
    assert "/admin/stripe_integration/webhookevent/add/" not in listing
    assert admin_client.get("/admin/stripe_integration/webhookevent/add/").status_code == 403
    event = WebhookEvent.objects.get(stripe_id="evt_readonly")
    page = admin_client.get(f"/admin/stripe_integration/webhookevent/{event.pk}/change/").content.decode()
    assert "evt_readonly" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page and "/delete/" not in page


def test_account_updated_over_http_reads_the_account_back_and_lets_the_seller_be_paid(client, stripe_server):
    from payouts.models import PayoutAccount
    from payouts.payout_accounts import payout_account_stripe_link

    payouts = Payouts()
    payouts.configure(provider="stripe_connect")
    seller = payouts.stripe_seller(stripe_server, complete=False)
    account = PayoutAccount.objects.get(seller=seller)
    assert not account.stripe_payouts_enabled
    stripe_server.onboard(payout_account_stripe_link(seller=seller))
    # The event Stripe sends carries the account as it was then; the handler reads it again.
    # Found by its account among all the session's events (newest first, as Stripe lists).
    event = next(
        e.to_dict()
        for e in stripe.Event.list(
            type="account.updated", limit=100, api_key="sk_test_localstripe"
        ).auto_paging_iter()
        if e.data.object["id"] == account.stripe_account_id and e.data.object["payouts_enabled"]
    )

    response = _post(client, event)

    assert response.status_code == 200
    assert response.json()["result"] == f"seller #{seller.pk}: payouts enabled; due: nothing"
    account.refresh_from_db()
    assert account.stripe_payouts_enabled and account.stripe_requirements_due == []
