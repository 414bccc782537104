"""
Disputes for localstripe, which has none, shaped as Stripe documents them
(https://docs.stripe.com/api/disputes, https://docs.stripe.com/testing#disputes).

Stripe has no API call that opens a dispute: the customer's bank does. In test mode
Stripe opens one for charges on its dispute test cards; here a charge is disputed through
a test hook, so tests choose the charge, the amount and the reason:

- `POST /_config/disputes` (with --test-hooks only) `{"payment_intent": "pi_…"}` or
  `{"charge": "ch_…"}`, optional `amount` (default: the whole charge) and `reason`
  (default `fraudulent`): opens a dispute in `needs_response` and sends
  `charge.dispute.created`.
- `GET /v1/disputes/{id}` and `GET /v1/disputes` (filter by `payment_intent` or `charge`).
- `POST /v1/disputes/{id}` with `evidence[uncategorized_text]` set to `winning_evidence`
  or `losing_evidence` closes it `won` or `lost` (Stripe's test-mode magic strings) and
  sends `charge.dispute.closed`; other evidence only updates it.
- `POST /v1/disputes/{id}/close` accepts the dispute: `lost`, `charge.dispute.closed`.
- `"inquiry": true` on `/_config/disputes` opens an inquiry instead
  (`warning_needs_response`, no money withdrawn); evidence or closing ends it as
  `warning_closed`.

A dispute carries Stripe's dispute fee (15.00 in the charge's currency) as a balance
transaction, and its charge is marked `disputed`.
"""

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Charge, Event, List, PaymentIntent, StripeObject, store, try_convert_to_int
from localstripe.server import api_retrieve, get_post_data, json_response
from localstripe.webhooks import schedule_webhook

DISPUTE_FEE = 1500
WINNING, LOSING = "winning_evidence", "losing_evidence"


class Dispute(StripeObject):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: Charge, amount=None, reason="fraudulent", inquiry=False):
        amount = charge.amount if amount is None else try_convert_to_int(amount)
        if type(amount) is not int or not 0 < amount <= charge.amount:
            raise UserError(400, "Invalid amount: a dispute is for part or all of its charge")
        super().__init__()
        self.amount = amount
        self.currency = charge.currency
        self.charge = charge.id
        self.payment_intent = charge.payment_intent
        self.reason = reason
        # An inquiry (a retrieval request) takes no money until it becomes a chargeback.
        self.status = "warning_needs_response" if inquiry else "needs_response"
        self.evidence = {}
        self.is_charge_refundable = bool(inquiry)
        self.metadata = {}
        self.balance_transactions = (
            []
            if inquiry
            else [
                {
                    "object": "balance_transaction",
                    "amount": -amount,
                    "fee": DISPUTE_FEE,
                    "currency": charge.currency,
                }
            ]
        )
        charge.disputed = True
        schedule_webhook(Event("charge.dispute.created", self))

    def _close(self, status: str) -> None:
        if self.status in ("won", "lost", "warning_closed"):
            raise UserError(400, f"This dispute is already closed ({self.status}).")
        if self.status.startswith("warning_"):
            status = "warning_closed"  # an inquiry closes without moving money, either way
        self.status = status
        if status == "won":
            self.balance_transactions.append(
                {
                    "object": "balance_transaction",
                    "amount": self.amount,
                    "fee": -DISPUTE_FEE,
                    "currency": self.currency,
                }
            )
        schedule_webhook(Event("charge.dispute.closed", self))


def _charge_for(data: dict) -> Charge:
    if data.get("charge"):
        return Charge._api_retrieve(data["charge"])
    if data.get("payment_intent"):
        intent = PaymentIntent._api_retrieve(data["payment_intent"])
        charge = intent.latest_charge
        if charge is None or charge.status != "succeeded":
            raise UserError(400, "This PaymentIntent has no succeeded charge to dispute")
        return charge
    raise UserError(400, "Name the charge or payment_intent to dispute")


async def open_dispute(request):
    data = await request.json()
    dispute = Dispute(
        _charge_for(data),
        amount=data.get("amount"),
        reason=data.get("reason", "fraudulent"),
        inquiry=bool(data.get("inquiry")),
    )
    return json_response(dispute._export())


async def update_dispute(request):
    dispute = Dispute._api_retrieve(request.match_info["id"])
    data = await get_post_data(request) or {}
    evidence = data.get("evidence") or {}
    if not isinstance(evidence, dict):
        raise UserError(400, "Invalid evidence")
    dispute.evidence.update(evidence)
    if isinstance(data.get("metadata"), dict):
        dispute.metadata.update(data["metadata"])
    text = evidence.get("uncategorized_text")
    if text in (WINNING, LOSING):
        dispute._close("won" if text == WINNING else "lost")
    return json_response(dispute._export())


async def close_dispute(request):
    await get_post_data(request)
    dispute = Dispute._api_retrieve(request.match_info["id"])
    dispute._close("lost")
    return json_response(dispute._export())


def list_disputes(request):
    url = "/v1/disputes"
    query = dict(request.query)
    limit = query.pop("limit", None)
    starting_after = query.pop("starting_after", None)
    wanted = {k: v for k, v in query.items() if k in ("charge", "payment_intent")}
    li = List(url, limit=limit, starting_after=starting_after)
    li._list = [
        value
        for key, value in store.items()
        if key.startswith("dispute:") and all(getattr(value, k) == v for k, v in wanted.items())
    ]
    return json_response(li._export())


def add_routes(app: web.Application, *, test_hooks: bool) -> None:
    app.router.add_get("/v1/disputes", list_disputes)
    app.router.add_get("/v1/disputes/{id}", api_retrieve(Dispute, "/v1/disputes"))
    app.router.add_post("/v1/disputes/{id}", update_dispute)
    app.router.add_post("/v1/disputes/{id}/close", close_dispute)
    if test_hooks:
        app.router.add_post("/_config/disputes", open_dispute)
