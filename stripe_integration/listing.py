"""
Reading what Stripe holds, for reconciliation (`manage.py reconcile_stripe`): every
PaymentIntent, refund, transfer and dispute created since an instant, page after page,
and single objects by id. The same pacing and transport retries as every other call
(`client._call`); objects come back as plain dicts.

Stripe lists newest first, up to 100 a page; the next page starts after the last id of
the previous one (https://docs.stripe.com/api/pagination).
"""

from collections.abc import Iterator
from datetime import datetime

import stripe

from .client import _call

PAGE_SIZE = 100


def _pages(fn, **filters) -> Iterator[dict]:
    starting_after = None
    while True:
        params = dict(filters, limit=PAGE_SIZE)
        if starting_after:
            params["starting_after"] = starting_after
        page, _ = _call(fn, **params)
        data = page.get("data") or []
        yield from data
        if not page.get("has_more") or not data:
            return
        starting_after = data[-1]["id"]


def _created_since(since: datetime) -> dict:
    return {"created": {"gte": int(since.timestamp())}}


def payment_intents_since(since: datetime) -> Iterator[dict]:
    return _pages(stripe.PaymentIntent.list, **_created_since(since))


def refunds_since(since: datetime) -> Iterator[dict]:
    return _pages(stripe.Refund.list, **_created_since(since))


def transfers_since(since: datetime) -> Iterator[dict]:
    return _pages(stripe.Transfer.list, **_created_since(since))


def disputes_since(since: datetime) -> Iterator[dict]:
    return _pages(stripe.Dispute.list, **_created_since(since))


def _retrieve(fn, object_id: str) -> dict | None:
    """The object, or None when Stripe has no object with that id (404)."""
    try:
        obj, _ = _call(fn, object_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise
    return obj


def payment_intent_get(stripe_id: str) -> dict | None:
    return _retrieve(stripe.PaymentIntent.retrieve, stripe_id)


def refund_get(stripe_id: str) -> dict | None:
    return _retrieve(stripe.Refund.retrieve, stripe_id)


def transfer_get(stripe_id: str) -> dict | None:
    return _retrieve(stripe.Transfer.retrieve, stripe_id)


def dispute_get(stripe_id: str) -> dict | None:
    return _retrieve(stripe.Dispute.retrieve, stripe_id)


def object_id(value) -> str:
    """The id of a field Stripe sends either as an id or as the expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""
