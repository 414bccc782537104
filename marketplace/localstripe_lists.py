"""
List filters for localstripe, as Stripe documents them, for what reconciliation reads:

- `created` (an instant, or `created[gt|gte|lt|lte]`) on `GET /v1/payment_intents` and
  `GET /v1/refunds` (https://docs.stripe.com/api/payment_intents/list), which localstripe
  refuses as an unexpected parameter; and PaymentIntents listed newest first, as Stripe
  lists everything (localstripe lists them oldest first, so a session's first page never
  shows what a test just made);
- `GET /v1/transfers` (https://docs.stripe.com/api/transfers/list) with `created`,
  `destination` and `transfer_group`, which localstripe lacks (Connect is ours);
- `GET /v1/events` newest first too (https://docs.stripe.com/api/events/list): oldest first,
  a page of a long session's events never reaches what a test just did.
"""

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Event, PaymentIntent, Refund, try_convert_to_int

from .localstripe_connect import Transfer

_BOUNDS = {
    "gt": lambda value, bound: value > bound,
    "gte": lambda value, bound: value >= bound,
    "lt": lambda value, bound: value < bound,
    "lte": lambda value, bound: value <= bound,
}


def _created_filter(created):
    """A predicate on `created` from the query's `created` (an int or a dict of bounds)."""
    if created is None:
        return lambda value: True
    bounds = created if isinstance(created, dict) else {"eq": created}
    checks = []
    for op, raw in bounds.items():
        bound = try_convert_to_int(raw)
        if type(bound) is not int or (op not in _BOUNDS and op != "eq"):
            raise UserError(400, f"Invalid created filter: {op}")
        checks.append(
            (lambda v, b=bound: v == b) if op == "eq" else (lambda v, b=bound, f=_BOUNDS[op]: f(v, b))
        )
    return lambda value: all(check(value) for check in checks)


def _patch_created(cls, *, newest_first_already: bool = False):
    original = cls._api_list_all.__func__
    if getattr(original, "_created_filter", False):
        return

    def api_list_all(klass, url, created=None, **kwargs):
        keep = _created_filter(created)
        li = original(klass, url, **kwargs)
        # Newest first; among objects of the same second, the one made last first.
        li._list = sorted(
            (obj for obj in (li._list if newest_first_already else reversed(li._list)) if keep(obj.created)),
            key=lambda obj: obj.created,
            reverse=True,
        )
        return li

    api_list_all._created_filter = True
    cls._api_list_all = classmethod(api_list_all)


def add_routes(app: web.Application) -> None:
    _patch_created(PaymentIntent)
    _patch_created(Refund)
    _patch_created(Event)
    # GET /v1/transfers is localstripe_connect's route (filters by transfer group and
    # destination, newest first); this adds the `created` filter to it.
    _patch_created(Transfer, newest_first_already=True)
