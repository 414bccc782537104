"""
Stripe Connect for localstripe, which has none: connected accounts and transfers, with
the fields and errors the payouts code relies on, as Stripe documents them
(https://docs.stripe.com/api/transfers, https://docs.stripe.com/connect/separate-charges-and-transfers).

- `POST /v1/accounts` creates an Express account (`acct_…`).
- `POST /v1/transfers` moves `amount` in `currency` to `destination` with an optional
  `transfer_group`; an unknown destination answers 400 `invalid_request_error`
  ("No such destination"), as Stripe does.
- `GET /v1/transfers` lists transfers, newest first, filtered by `transfer_group` and
  `destination` when given (https://docs.stripe.com/api/transfers/list).
- `POST /v1/transfers/{id}/reversals` reverses it and sends `transfer.reversed`.
"""

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Event, StripeObject, store, try_convert_to_int
from localstripe.server import api_create, api_list_all, api_retrieve, get_post_data, json_response
from localstripe.webhooks import schedule_webhook


class Account(StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(self, type="express", email=None, country="US", metadata=None, **kwargs):
        super().__init__()
        self.type = type
        self.email = email
        self.country = country
        self.charges_enabled = True
        self.payouts_enabled = True
        self.metadata = metadata or {}


class Transfer(StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(
        self,
        amount=None,
        currency=None,
        destination=None,
        transfer_group=None,
        metadata=None,
        description=None,
        **kwargs,
    ):
        amount = try_convert_to_int(amount)
        if type(amount) is not int or amount <= 0:
            raise UserError(400, "Invalid positive integer: amount")
        if not currency or len(currency) != 3:
            raise UserError(400, "Invalid currency")
        if not destination or store.get(f"account:{destination}") is None:
            raise UserError(400, f"No such destination: '{destination}'")
        super().__init__()
        self.amount = amount
        self.amount_reversed = 0
        self.currency = currency.lower()
        self.destination = destination
        self.transfer_group = transfer_group
        self.description = description
        self.metadata = metadata or {}
        self.reversed = False
        schedule_webhook(Event("transfer.created", self))

    @classmethod
    def _api_list_all(
        cls, url, limit=None, starting_after=None, transfer_group=None, destination=None, **kwargs
    ):
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after, **kwargs)
        # Newest first, as Stripe lists; the reversal keeps transfers created in the same
        # second newest first too.
        li._list = [
            t
            for t in reversed(li._list)
            if (transfer_group is None or t.transfer_group == transfer_group)
            and (destination is None or t.destination == destination)
        ]
        li._list.sort(key=lambda t: t.created, reverse=True)
        return li

    def _reverse(self):
        self.reversed = True
        self.amount_reversed = self.amount
        schedule_webhook(Event("transfer.reversed", self))


async def _reverse(request):
    await get_post_data(request)
    transfer = Transfer._api_retrieve(request.match_info["id"])
    if transfer.reversed:
        raise UserError(400, "This transfer has already been fully reversed.")
    transfer._reverse()
    return json_response(
        {
            "id": f"trr_{transfer.id[3:]}",
            "object": "transfer_reversal",
            "amount": transfer.amount,
            "currency": transfer.currency,
            "transfer": transfer.id,
        }
    )


def add_routes(app: web.Application) -> None:
    for cls in (Account, Transfer):
        url = f"/v1/{cls.object}s"
        app.router.add_post(url, api_create(cls, url))
        app.router.add_get(url + "/{id}", api_retrieve(cls, url))
    app.router.add_get("/v1/transfers", api_list_all(Transfer, "/v1/transfers"))
    app.router.add_post("/v1/transfers/{id}/reversals", _reverse)
