"""
Run localstripe (a stateful fake Stripe server from PyPI) on a loopback address, closer
to Stripe on the points billing depends on.

    python -m marketplace.localstripe_server [--host 127.0.0.1] [--port 8420] [--test-hooks]

What this adds to localstripe 1.15, each as Stripe documents it:

- Idempotency keys (https://docs.stripe.com/api/idempotent_requests): a POST with an
  `Idempotency-Key` header seen before answers with the first response, status and body;
  the same key with different parameters answers 400 `idempotency_error`.
- Stripe's test cards that attach fine and are declined when charged, each with its
  decline code (https://docs.stripe.com/testing#declined-payments), and card errors
  shaped as Stripe sends them: `type: card_error`, `code`, `decline_code` and the
  `payment_intent`, also in the PaymentIntent's `last_payment_error`.
- With --test-hooks only: `POST /_config/faults` makes the next N API requests whose path
  starts with a prefix answer a given status (503, 429 ...) without touching any state,
  the way a load balancer in front of Stripe would (optionally only for one HTTP method). The test suite uses it to show that
  gateway trouble retries the same attempt with the same key. A 409 fault answers as
  Stripe does while another request with the same idempotency key is in progress
  (`idempotency_error`).
- With --test-hooks only: `POST /_config/lost_answers` makes the next N POSTs whose path
  starts with a prefix do their work (the transfer is made, the idempotency
  key remembers it) and then answer 503, as when Stripe's answer is lost on the way back;
  `POST /_config/forget_idempotency_keys` forgets every key, as Stripe does after 24 hours.
- Stripe Connect accounts and transfers (see `localstripe_connect`), which localstripe lacks.
- List filters by creation time, and the list of transfers (see `localstripe_lists`),
  which reconciliation reads.
- Disputes (see `localstripe_disputes`): opened on a charge through a test hook, closed
  won or lost with Stripe's test-mode evidence strings, each with its webhook event.
- Stripe's minimum charge amounts (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts):
  a PaymentIntent below the minimum answers 400 `invalid_request_error`, code
  `amount_too_small`, as Stripe does.
- Refunds as Stripe answers them (https://docs.stripe.com/api/refunds/create): a refund of
  more than is left on the charge answers 400 (`charge_already_refunded` once nothing is
  left), a disputed charge cannot be refunded (`charge_disputed`), and each refund sends
  `refund.created`, so a refund made outside the product (the Stripe Dashboard) reaches it.
- Pending refunds (see `localstripe_refunds`): a test hook makes the next refunds stay
  `pending` and settles one `succeeded`, `failed` (with a `failure_reason`) or `canceled`,
  sending `refund.updated`, as Stripe does for refunds its banks take days over.
- A card set up with 3-D Secure through a SetupIntent (4000002500003155) is not asked to
  authenticate again for off-session payments, as Stripe documents; the PaymentIntent
  path (a payment confirmed on the page) still asks.
- State is kept in memory; --keep-data restores and saves it in this checkout's
  var/localstripe-<port>.pickle (localstripe's own /tmp/localstripe.pickle would be shared
  by every checkout on the machine, and one whose classes differ could not read it). A
  file that cannot be read is set aside and the server starts empty.
"""

import argparse
import hashlib
import logging
import pickle
from pathlib import Path

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError
from localstripe.server import app, store
from localstripe.webhooks import schedule_webhook

from . import localstripe_connect, localstripe_disputes, localstripe_lists, localstripe_refunds

# https://docs.stripe.com/testing#declined-payments: number -> (code, decline_code, message)
DECLINED_WHEN_CHARGED = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card.",
    ),
    "4100000000000019": ("card_declined", "fraudulent", "Your card was declined."),
}


# Stripe's minimum charge per currency, in its API units (the currencies the product and
# its tests use; Stripe's table has more).
MINIMUM_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "jpy": 50, "isk": 10000}


def _patch_minimum_charge():
    create = resources.PaymentIntent._api_create.__func__

    def api_create(cls, **data):
        amount = resources.try_convert_to_int(data.get("amount"))
        currency = str(data.get("currency") or "").lower()
        minimum = MINIMUM_CHARGE.get(currency)
        if type(amount) is int and minimum and 0 < amount < minimum:
            raise UserError(
                400,
                f"Amount must be at least {minimum} {currency}",
                {"code": "amount_too_small", "param": "amount"},
            )
        return create(cls, **data)

    resources.PaymentIntent._api_create = classmethod(api_create)


def _patch_refunds():
    Refund, Charge, PaymentIntent = resources.Refund, resources.Charge, resources.PaymentIntent
    create = Refund._api_create.__func__

    def refused(code, message):
        return UserError(400, message, {"code": code, "param": "amount"})

    def api_create(cls, **data):
        charge_id = data.get("charge")
        if not charge_id and data.get("payment_intent"):
            intent = PaymentIntent._api_retrieve(data["payment_intent"])
            charge_id = intent.latest_charge.id if intent.latest_charge else None
        if charge_id:
            charge = Charge._api_retrieve(charge_id)
            if getattr(charge, "disputed", False):
                raise refused(
                    "charge_disputed", f"Charge {charge.id} has been charged back; cannot issue a refund."
                )
            done = localstripe_refunds.refunded_amount(
                r for key, r in store.items() if key.startswith("refund:") and r.charge == charge.id
            )
            left = charge.amount - done
            amount = resources.try_convert_to_int(data.get("amount"))
            if left <= 0:
                raise refused("charge_already_refunded", f"Charge {charge.id} has already been refunded.")
            if type(amount) is int and amount > left:
                raise refused(
                    "amount_too_large",
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
                )
        refund = create(cls, **data)
        localstripe_refunds.refund_made(refund)
        schedule_webhook(resources.Event("refund.created", refund))
        return refund

    Refund._api_create = classmethod(api_create)


def _card_number(payment_method_id):
    try:
        pm = resources.PaymentMethod._api_retrieve(payment_method_id)
    except Exception:
        return None
    return getattr(pm, "_card_number", None)


def _patch_declines():
    PaymentMethod, Charge, PaymentIntent = resources.PaymentMethod, resources.Charge, resources.PaymentIntent
    attaching, charging = PaymentMethod._attaching_is_declined, PaymentMethod._charging_is_declined

    def attaching_is_declined(self):
        if self.type == "card" and self._card_number in DECLINED_WHEN_CHARGED:
            return False
        return attaching(self)

    def charging_is_declined(self):
        if self.type == "card" and self._card_number in DECLINED_WHEN_CHARGED:
            return True
        return charging(self)

    def set_auth_failure(self):
        code, decline_code, message = DECLINED_WHEN_CHARGED.get(
            _card_number(self.payment_method), ("card_declined", "generic_decline", "Your card was declined.")
        )
        self.status = "failed"
        self.failure_code = code
        self.failure_message = message
        self._decline_code = decline_code

    def raise_failure(self):
        error = {
            "type": "card_error",
            "code": self.failure_code,
            "decline_code": getattr(self, "_decline_code", "generic_decline"),
            "charge": self.id,
        }
        if self.payment_intent:
            pi = PaymentIntent._api_retrieve(self.payment_intent)
            error["payment_intent"] = {"id": pi.id, "object": "payment_intent", "status": pi.status}
        exc = UserError(402, self.failure_message, error)
        exc.body["error"]["type"] = "card_error"
        raise exc

    def last_payment_error(self):
        if self._authentication_failed:
            return {
                "type": "card_error",
                "code": "payment_intent_authentication_failure",
                "message": "The provided PaymentMethod has failed authentication.",
            }
        charge = self.latest_charge
        if charge and charge.status == "failed":
            return {
                "type": "card_error",
                "charge": charge.id,
                "code": charge.failure_code,
                "decline_code": getattr(charge, "_decline_code", "generic_decline"),
                "message": charge.failure_message,
            }
        return None

    PaymentMethod._attaching_is_declined = attaching_is_declined
    PaymentMethod._charging_is_declined = charging_is_declined
    Charge._set_auth_failure = set_auth_failure
    Charge._raise_failure = raise_failure
    PaymentIntent.last_payment_error = property(last_payment_error)


_idempotent: dict = {}
_faults: list = []
_lost_answers: list = []


@web.middleware
async def faults_middleware(request, handler):
    for fault in _faults:
        if (
            fault["count"] > 0
            and request.path.startswith(fault["path"])
            and fault.get("method", request.method) == request.method
        ):
            fault["count"] -= 1
            body = {"error": {"type": "api_error", "message": f"Injected fault {fault['status']}."}}
            if fault["status"] == 429:
                body["error"] = {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Too many requests.",
                }
            elif fault["status"] == 409:
                body["error"] = {
                    "type": "idempotency_error",
                    "message": "There is currently another in-progress request using this "
                    "Stripe-Idempotency-Key. Please try again later.",
                }
            return web.json_response(body, status=fault["status"])
    return await handler(request)


@web.middleware
async def lost_answers_middleware(request, handler):
    """Outside the idempotency middleware: the request is done and its key remembered
    before the answer is replaced."""
    for lost in _lost_answers:
        if lost["count"] > 0 and request.method == "POST" and request.path.startswith(lost["path"]):
            lost["count"] -= 1
            try:
                await handler(request)
            except UserError:
                pass
            body = {"error": {"type": "api_error", "message": "Injected lost answer."}}
            return web.json_response(body, status=503)
    return await handler(request)


@web.middleware
async def idempotency_middleware(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    fingerprint = hashlib.sha256(request.path.encode() + b"\0" + await request.read()).hexdigest()
    seen = _idempotent.get(key)
    if seen is not None:
        if seen["fingerprint"] != fingerprint:
            return web.json_response(
                {
                    "error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used "
                        "with the same parameters they were first used with.",
                    }
                },
                status=400,
            )
        return web.Response(
            body=seen["body"],
            status=seen["status"],
            content_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        response = await handler(request)
    except UserError as exc:
        response = exc.to_response()
    if response.status < 500:  # Stripe does not save results of requests that failed on its side
        _idempotent[key] = {"fingerprint": fingerprint, "status": response.status, "body": response.body}
    return response


async def set_faults(request):
    data = await request.json()
    _faults.clear()
    if data.get("count"):
        _faults.append(
            {"path": data.get("path", "/v1/"), "status": int(data["status"]), "count": int(data["count"])}
        )
        if data.get("method"):
            _faults[-1]["method"] = data["method"].upper()
    return web.json_response({"faults": _faults})


async def set_lost_answers(request):
    data = await request.json()
    _lost_answers.clear()
    if data.get("count"):
        _lost_answers.append({"path": data.get("path", "/v1/"), "count": int(data["count"])})
    return web.json_response({"lost_answers": _lost_answers})


async def forget_idempotency_keys(request):
    """Stripe forgets idempotency keys after 24 hours."""
    _idempotent.clear()
    return web.json_response({})


async def flush(request):
    store.clear()
    _idempotent.clear()
    _faults.clear()
    _lost_answers.clear()
    localstripe_refunds.reset()
    return web.json_response({})


# https://docs.stripe.com/testing#authentication-and-setup: 4000002500003155 "requires
# authentication for one-time payments ... if you set up this card using the Setup Intents
# API and use the saved card for subsequent payments, no further authentication is needed."
# (The "always authenticate" cards, such as 4000002760003184, still ask every time.)
AUTHENTICATE_ONCE_WHEN_SET_UP = {"4000002500003155"}
_creating_off_session = [False]


@web.middleware
async def setup_authenticated_middleware(request, handler):
    """Remember the card of a SetupIntent whose 3-D Secure check the customer passed
    (its second confirm, from requires_action to succeeded). localstripe binds its
    SetupIntent routes when imported, so this watches the route instead of patching it."""
    parts = request.path.strip("/").split("/")
    if (
        request.method != "POST"
        or len(parts) != 4
        or parts[:2] != ["v1", "setup_intents"]
        or parts[3] != "confirm"
    ):
        return await handler(request)
    try:
        was = resources.SetupIntent._api_retrieve(parts[2]).status
    except UserError:
        was = None
    response = await handler(request)
    if was == "requires_action":
        seti = resources.SetupIntent._api_retrieve(parts[2])
        if seti.status == "succeeded" and seti.payment_method:
            resources.PaymentMethod._api_retrieve(seti.payment_method)._authenticated_on_setup = True
    return response


def _patch_authentication_once():
    PaymentIntent, PaymentMethod = resources.PaymentIntent, resources.PaymentMethod
    intent_create = PaymentIntent._api_create.__func__
    requires = PaymentMethod._requires_authentication

    def api_create(cls, confirm=None, off_session=None, **data):
        _creating_off_session[0] = resources.try_convert_to_bool(off_session) is True
        try:
            return intent_create(cls, confirm=confirm, off_session=off_session, **data)
        finally:
            _creating_off_session[0] = False

    def requires_authentication(self):
        if (
            _creating_off_session[0]
            and getattr(self, "_authenticated_on_setup", False)
            and getattr(self, "_card_number", None) in AUTHENTICATE_ONCE_WHEN_SET_UP
        ):
            return False
        return requires(self)

    PaymentIntent._api_create = classmethod(api_create)
    PaymentMethod._requires_authentication = requires_authentication


def _keep_state_in(path: Path) -> None:
    """Restore localstripe's objects from `path` and save them there on every change."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("rb") as saved:
            store.update(pickle.load(saved))
    except FileNotFoundError:
        pass
    except Exception:  # written by another version of these classes: start empty
        logging.getLogger(__name__).warning("Could not read %s; starting with no Stripe objects.", path)
        path.replace(path.with_suffix(".unreadable"))

    def dump_to_disk():
        with path.open("wb") as out:
            pickle.dump(dict(store), out, protocol=pickle.HIGHEST_PROTOCOL)

    store.dump_to_disk = dump_to_disk


def build_app(*, test_hooks: bool = False, keep_data: bool = False, port: int = 8420):
    _patch_declines()
    _patch_minimum_charge()
    _patch_refunds()
    _patch_authentication_once()
    if keep_data:
        _keep_state_in(Path(__file__).resolve().parent.parent / "var" / f"localstripe-{port}.pickle")
    else:
        store.dump_to_disk = lambda *a, **k: None  # keep state in memory only
    app.middlewares.insert(0, idempotency_middleware)
    app.middlewares.append(setup_authenticated_middleware)
    localstripe_connect.add_routes(app)
    localstripe_disputes.add_routes(app, test_hooks=test_hooks)
    localstripe_lists.add_routes(app)
    localstripe_refunds.add_routes(app, test_hooks=test_hooks)
    if test_hooks:
        app.middlewares.insert(0, lost_answers_middleware)
        app.middlewares.insert(0, faults_middleware)
        app.router.add_post("/_config/faults", set_faults)
        app.router.add_post("/_config/lost_answers", set_lost_answers)
        app.router.add_post("/_config/forget_idempotency_keys", forget_idempotency_keys)
        app.router.add_post("/_config/flush", flush)
    return app


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--keep-data", action="store_true", help="Reload and save localstripe's state file.")
    parser.add_argument("--test-hooks", action="store_true", help="Enable /_config/faults (test suite only).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    web.run_app(
        build_app(test_hooks=args.test_hooks, keep_data=args.keep_data, port=args.port),
        host=args.host,
        port=args.port,
        print=None,
    )


if __name__ == "__main__":
    main()
