"""
Stripe Connect for localstripe, which has none: connected accounts with their hosted
onboarding, and transfers, with the fields and errors the payouts code relies on, as
Stripe documents them (https://docs.stripe.com/api/accounts,
https://docs.stripe.com/api/account_links, https://docs.stripe.com/api/transfers,
https://docs.stripe.com/connect/separate-charges-and-transfers).

- `POST /v1/accounts` creates an Express account (`acct_…`) that cannot be paid yet:
  `payouts_enabled` false, `details_submitted` false, and `requirements.currently_due`
  listing what onboarding asks for, with `disabled_reason` `requirements.past_due`.
  `GET /v1/accounts/{id}` reads it back.
- `POST /v1/account_links` (`account`, `refresh_url`, `return_url`, `type`
  `account_onboarding` or `account_update`) answers an `account_link` whose `url` is a
  local onboarding page standing in for Stripe's hosted one, expiring after 300 seconds.
- The onboarding page (`GET /connect/onboarding/{link}`) shows the account and what is
  due, with three buttons: submit everything (the account becomes payable), submit but
  leave the ID document due (still not payable), or go back without submitting. Each
  submit changes the account and sends `account.updated`; then the browser goes to the
  link's `return_url`. As at Stripe, a link works once: opening a used or expired one
  sends the browser to its `refresh_url`, where the platform makes a new link.
- `POST /v1/transfers` moves `amount` in `currency` to `destination` with an optional
  `transfer_group`; an unknown destination answers 400 `invalid_request_error`
  ("No such destination"), as Stripe does.
- `GET /v1/transfers` lists transfers, newest first, filtered by `transfer_group` and
  `destination` when given (https://docs.stripe.com/api/transfers/list).
- `POST /v1/transfers/{id}/reversals` reverses it and sends `transfer.reversed`.
"""

import html
import time

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Event, StripeObject, store, try_convert_to_int
from localstripe.server import api_create, api_list_all, api_retrieve, get_post_data, json_response
from localstripe.webhooks import schedule_webhook

# What Stripe asks a new Express account for (a subset of its requirement names,
# https://docs.stripe.com/connect/required-verification-information).
ONBOARDING_DUE = [
    "business_type",
    "external_account",
    "individual.dob.day",
    "individual.first_name",
    "individual.last_name",
    "individual.verification.document",
    "tos_acceptance.date",
]
# What "leave a requirement due" leaves for later.
LEFT_DUE = ["individual.verification.document"]
LINK_LIFETIME_SECONDS = 300


class Account(StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(self, type="express", email=None, country="US", metadata=None, **kwargs):
        super().__init__()
        self.type = type
        self.email = email
        self.country = country
        self.metadata = metadata or {}
        self._set_due(list(ONBOARDING_DUE), submitted=False)

    def _set_due(self, due: list, *, submitted: bool) -> None:
        """New dicts and lists each time: events keep a shallow copy of the export."""
        self.details_submitted = submitted
        self.payouts_enabled = self.charges_enabled = not due
        self.capabilities = {"transfers": "inactive" if due else "active"}
        self.requirements = {
            "currently_due": list(due),
            "eventually_due": list(due),
            "past_due": list(due),
            "pending_verification": [],
            "errors": [],
            "current_deadline": None,
            "disabled_reason": "requirements.past_due" if due else None,
        }

    def _onboard(self, due: list) -> None:
        self._set_due(due, submitted=True)
        schedule_webhook(Event("account.updated", self))


class AccountLink(StripeObject):
    """Stripe's account links have no id; this one keeps a private one for its page."""

    object = "account_link"
    _id_prefix = "link_"

    def __init__(self, origin: str, account=None, refresh_url=None, return_url=None, type=None, **kwargs):
        if not account or store.get(f"account:{account}") is None:
            raise UserError(400, f"No such account: '{account}'")
        for name, value in (("refresh_url", refresh_url), ("return_url", return_url)):
            if not value or not str(value).startswith(("http://", "https://")):
                raise UserError(400, f"Invalid URL: {name} must be an absolute http(s) URL")
        if type not in ("account_onboarding", "account_update"):
            raise UserError(400, "Invalid type: must be one of account_onboarding, account_update")
        super().__init__()
        self.type = type
        self.expires_at = self.created + LINK_LIFETIME_SECONDS
        self.url = f"{origin}/connect/onboarding/{self.id}"
        self._account, self._refresh_url, self._return_url = account, refresh_url, return_url
        self._opened = self._submitted = False

    def _export(self, expand=None):
        exported = super()._export(expand=expand)
        exported.pop("id", None)
        return exported


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


async def _account_link_create(request):
    data = await get_post_data(request) or {}
    data.pop("expand", None)
    return json_response(AccountLink(f"{request.scheme}://{request.host}", **data)._export())


def _link(request) -> AccountLink:
    link = store.get(f"account_link:{request.match_info['link']}")
    if link is None:
        raise web.HTTPNotFound(text="This onboarding link does not exist.")
    return link


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stripe test onboarding</title>
<style>body{{font-family:system-ui,sans-serif;max-width:38rem;margin:3rem auto;color:#1a1f36}}
button{{display:block;margin:.6rem 0;padding:.6rem 1rem;font-size:1rem}}li{{margin:.2rem 0}}</style>
</head><body>
<p><strong>Stripe</strong> · local test onboarding (no real Stripe is involved)</p>
<h1>Set up payouts for {email}</h1>
<p>Connected account <code>{account}</code>. Stripe needs:</p>
<ul>{due}</ul>
<form method="post">
<button name="action" value="complete">Submit all details</button>
<button name="action" value="partial">Submit, but leave the ID document for later</button>
<button name="action" value="back">Go back without submitting</button>
</form></body></html>"""


async def _onboarding_page(request):
    link = _link(request)
    if link._opened or time.time() > link.expires_at:
        raise web.HTTPFound(link._refresh_url)  # Stripe's links work once, for 5 minutes
    link._opened = True
    account = Account._api_retrieve(link._account)
    due = "".join(f"<li>{html.escape(item)}</li>" for item in account.requirements["currently_due"])
    body = _PAGE.format(
        email=html.escape(account.email or "your account"),
        account=html.escape(account.id),
        due=due or "<li>nothing: the account is complete</li>",
    )
    return web.Response(text=body, content_type="text/html")


async def _onboarding_submit(request):
    link = _link(request)
    if link._submitted or time.time() > link.expires_at:
        raise web.HTTPFound(link._refresh_url)
    link._opened = link._submitted = True
    action = (await request.post()).get("action")
    account = Account._api_retrieve(link._account)
    if action == "complete":
        account._onboard([])
    elif action == "partial":
        account._onboard(list(LEFT_DUE))
    raise web.HTTPSeeOther(link._return_url)


@web.middleware
async def onboarding_pages_middleware(request, handler):
    """The onboarding page is opened by the seller's browser, which has no API key: it
    skips localstripe's key check, as Stripe's hosted pages need none."""
    if request.path.startswith("/connect/onboarding/"):
        return await request.match_info.handler(request)
    return await handler(request)


def add_routes(app: web.Application) -> None:
    app.middlewares.insert(0, onboarding_pages_middleware)
    for cls in (Account, Transfer):
        url = f"/v1/{cls.object}s"
        app.router.add_post(url, api_create(cls, url))
        app.router.add_get(url + "/{id}", api_retrieve(cls, url))
    app.router.add_post("/v1/account_links", _account_link_create)
    app.router.add_get("/connect/onboarding/{link}", _onboarding_page)
    app.router.add_post("/connect/onboarding/{link}", _onboarding_submit)
    app.router.add_get("/v1/transfers", api_list_all(Transfer, "/v1/transfers"))
    app.router.add_post("/v1/transfers/{id}/reversals", _reverse)
