"""
Pending refunds for localstripe, whose refunds all succeed at once, shaped as Stripe
documents them (https://docs.stripe.com/refunds#failed-refunds,
https://docs.stripe.com/api/refunds/object): a refund can be `pending` for days, then
`succeeded`, or `failed` with a `failure_reason` (the money stays with the platform), or
`canceled`. Stripe sends `refund.updated` (and `charge.refund.updated`) when it settles.

With --test-hooks only:

- `POST /_config/refunds/pending` `{"count": N}`: the next N refunds made stay `pending`.
- `POST /_config/refunds/{id}` `{"status": "succeeded" | "failed" | "canceled",
  "failure_reason": "…"}` (the reason for `failed` only, default `declined`): settles a
  pending refund and sends `refund.updated` and `charge.refund.updated`. A refund that is
  not pending answers 400 and changes nothing.

A failed or canceled refund gives its amount back to the charge: it no longer counts in
the charge's `amount_refunded`, and the charge can be refunded again.
"""

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError
from localstripe.server import json_response
from localstripe.webhooks import schedule_webhook

SETTLED = ("succeeded", "failed", "canceled")
NOT_MOVED = ("failed", "canceled")
FAILURE_REASONS = (
    "charge_for_pending_refund_disputed",
    "declined",
    "expired_or_canceled_card",
    "insufficient_funds",
    "lost_or_stolen_card",
    "merchant_request",
    "unknown",
)
_pending_next = [0]


def refund_made(refund) -> None:
    """Called for each new refund before its `refund.created` event is sent."""
    if _pending_next[0] > 0:
        _pending_next[0] -= 1
        refund.status = "pending"


def refunded_amount(refunds) -> int:
    """What a charge's refunds took: a failed or canceled refund took nothing."""
    return sum(r.amount for r in refunds if getattr(r, "status", "succeeded") not in NOT_MOVED)


def _patch_charge_amount_refunded() -> None:
    Charge = resources.Charge

    def amount_refunded(self):
        return refunded_amount(self.refunds._list)

    Charge.amount_refunded = property(amount_refunded)


async def set_pending(request):
    data = await request.json()
    count = data.get("count", 0)
    if type(count) is not int or count < 0:
        raise UserError(400, "count must be a whole number of refunds, 0 or more")
    _pending_next[0] = count
    return web.json_response({"pending_next": count})


async def settle_refund(request):
    data = await request.json()
    refund = resources.Refund._api_retrieve(request.match_info["id"])
    status = data.get("status")
    if status not in SETTLED:
        raise UserError(400, f"status must be one of {', '.join(SETTLED)}")
    if refund.status != "pending":
        raise UserError(400, f"Refund {refund.id} is {refund.status}, not pending")
    if status == "failed":
        reason = data.get("failure_reason", "declined")
        if reason not in FAILURE_REASONS:
            raise UserError(400, f"failure_reason must be one of {', '.join(FAILURE_REASONS)}")
        refund.failure_reason = reason
    refund.status = status
    schedule_webhook(resources.Event("refund.updated", refund))
    schedule_webhook(resources.Event("charge.refund.updated", refund))
    return json_response(refund._export())


def reset() -> None:
    _pending_next[0] = 0


def add_routes(app: web.Application, *, test_hooks: bool) -> None:
    _patch_charge_amount_refunded()
    if test_hooks:
        app.router.add_post("/_config/refunds/pending", set_pending)
        app.router.add_post("/_config/refunds/{id}", settle_refund)
