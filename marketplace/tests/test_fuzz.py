"""Random bodies to every form and webhook endpoint, as an anonymous visitor, a buyer, a
seller and staff: never a server error, and money (invoices, transactions, earnings,
payouts, the ledger) changes only when the product accepted the request (it said so with
a success message, or a webhook was answered 200), and then the ledger still holds.

Hypothesis is derandomized (the same examples on every run) with a bounded number of
examples per endpoint, so the test is repeatable in CI and takes seconds.
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from django.contrib.messages import SUCCESS, get_messages
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import BuyerFactory, SellerFactory, StaffFactory
from billing.links import card_update_token
from billing.models import DunningPolicy, Invoice, Transaction
from billing.tests.conftest import billing  # noqa: F401,F811  (the world has invoices paid through Stripe)
from finance.models import PayoutCycleSettings
from orders.links import confirmation_token
from orders.tests.factories import OrderFactory
from payouts.ledger import ledger_check
from payouts.models import Earning, Entry, Journal, LedgerAccount, Payout

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Values people (and attackers) type: numbers that are not amounts, statuses, NUL
# characters, markup, template syntax, SQL, very long text.
AWKWARD = [
    "",
    "²",  # a digit to str.isdigit(), not to int()
    " ",
    "0",
    "-1",
    "12.50",
    "NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "1e999999",
    "99999999999999999999999",
    "\x00",
    "lost\x00broken",
    "paid",
    "shipped",
    "pending_customer_confirmation",
    "pending_seller_action",
    "completed",
    "on",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{ request }}{% debug %}",
    "%s%s%n",
    "It's lost & broken",
    "💸" * 20,
    "x" * 5000,
]
values = st.one_of(st.sampled_from(AWKWARD), st.text(max_size=40))


@dataclass
class World:
    buyer: object
    seller: object
    staff: object
    orders: list
    invoices: list
    payouts: list
    extra: dict = field(default_factory=dict)


@pytest.fixture
def world(billing, django_capture_on_commit_callbacks):  # noqa: F811
    """Buyer, seller and staff, the seller's orders in every resting status, a settled and
    a failed invoice, and a scheduled payout with its ledger."""
    import time_machine

    from orders import services as order_services
    from payouts import services as payout_services

    buyer, seller, staff = BuyerFactory(), SellerFactory(), StaffFactory()
    orders = [
        OrderFactory(seller=seller, buyer=buyer, **{trait: True})
        for trait in ("paid", "shipped", "awaiting_buyer", "awaiting_seller")
    ]
    done = OrderFactory(seller=seller, buyer=buyer, awaiting_buyer=True, total_amount=5_000)
    with time_machine.travel(datetime(2026, 10, 5, 10, tzinfo=UTC), tick=False):
        order_services.order_confirm_received(order_id=done.pk, by=buyer)
    with time_machine.travel(datetime(2026, 10, 15, 1, tzinfo=UTC), tick=False):
        payout_services.payout_run_create(payout_date=date(2026, 10, 15))
    customer = billing.customer(card="4242424242424242", user=buyer)
    settled = billing.invoice(customer, amount=5_000)
    failed = billing.invoice(billing.customer(card="4000000000009987"), amount=1_000)
    return World(
        buyer=buyer,
        seller=seller,
        staff=staff,
        orders=[*orders, done],
        invoices=[settled, failed],
        payouts=list(Payout.objects.all()),
    )


def _money() -> dict:
    """Every row that holds or moves money, as it is now."""
    models = (Invoice, Transaction, Earning, Payout, Journal, Entry, LedgerAccount)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


ROLES = ("anonymous", "buyer", "seller", "staff")
# Awkward values for every field at once, besides the random ones: a NUL character alone
# (it is refused before anything else is read), then numbers that are not amounts,
# markup, template and SQL syntax, statuses and very long text, rotated over the fields.
NUL_BODY_VALUE = "lost\x00broken"
ROTATED = [
    "NaN",
    "1e999999",
    "<script>alert(1)</script>' OR 1=1 --{{ request }}",
    "-1",
    "paid",
    "sNaN",
    "x" * 3000,
    "Infinity",
    "99999999999999999999999",
    "",
]


def _awkward_bodies(fields: list[str]) -> list[dict]:
    rotated = [{f: ROTATED[(i + k) % len(ROTATED)] for i, f in enumerate(fields)} for k in range(3)]
    return [{f: NUL_BODY_VALUE for f in fields}, *rotated]


def _clients(world) -> dict[str, Client]:
    clients = {"anonymous": Client()}
    for role in ROLES[1:]:
        clients[role] = Client()
        clients[role].force_login(getattr(world, role))
    return clients


def _accepted(response) -> bool:
    """Whether the product said it did what was asked."""
    if response.wsgi_request.path == "/webhooks/stripe/":
        return response.status_code == 200
    if any(message.level == SUCCESS for message in get_messages(response.wsgi_request)):
        return True
    # The buyer's email link answers on its own page ("Thank you..."), not with a message.
    return response.status_code == 200 and bool(response.context and response.context.get("done"))


def _send(world, role, client, method, path, data=None, *, relogin=False, **extra):
    before = _money()
    if relogin and role != "anonymous":  # the sign-in and sign-out pages change who is signed in
        client.force_login(getattr(world, role))
    response = getattr(client, method)(path, data, **extra)
    assert response.status_code < 500, (role, path, data, response.status_code)
    if _money() != before:
        assert _accepted(response), f"money changed on a refused request: {role} {path} {data!r}"
        assert ledger_check() == [], f"the ledger broke after {role} {path} {data!r}"
    return response


def _form(fields):
    return st.dictionaries(st.sampled_from([*fields, "unexpected"]), values, max_size=len(fields) + 1)


def _fuzz(world, method, paths, fields, body=None, *, relogin=False):
    """Send random bodies (`body`, or random values for `fields`) to `paths` as every
    role, after the awkward bodies sent to each path as each role."""
    clients = _clients(world)

    def run(role, path, data):
        _send(world, role, clients[role], method, path, data, relogin=relogin)

    test = given(
        role=st.sampled_from(ROLES), path=st.sampled_from(paths), data=_form(fields) if body is None else body
    )(run)
    for n, awkward in enumerate(_awkward_bodies(fields)):
        for role in ROLES:
            test = example(role=role, path=paths[n % len(paths)], data=awkward)(test)
    FUZZ(test)()


# --- the forms people use --------------------------------------------------------------------


def test_sign_in_and_sign_out(world):
    fields = ["username", "password", "next"]
    _fuzz(world, "post", ["/accounts/login/", "/admin/login/", "/accounts/logout/"], fields, relogin=True)


def test_the_sellers_order_actions(world):
    actions = ["mark-shipped", "mark-delivered", "resolve", "refund", "x"]
    paths = [f"/seller/orders/{o}/{a}/" for a in actions for o in [o.pk for o in world.orders] + [999_999]]
    fields = ["expected_status", "carrier", "tracking_number", "reason", "confirm"]
    _fuzz(world, "post", paths, fields)


def test_the_buyers_order_actions_and_email_links(world):
    paths = [f"/orders/{o.pk}/{a}/" for o in world.orders for a in ("received", "not-received", "x")]
    paths += [
        f"/confirm/{o.pk}/{confirmation_token(order=o, answer=answer)}/"
        for o in world.orders
        for answer in ("received", "not_received")
    ]
    _fuzz(world, "post", paths, ["expected_status", "expected_round", "message", "answer"])


def test_the_card_page_and_its_card_setup(world):
    tokens = [t for i in world.invoices for t in (card_update_token(i), card_update_token(i)[:-2])] + ["x"]
    paths = [f"/billing/card/{t}/{tail}" for t in tokens for tail in ("", "setup/")]
    _fuzz(world, "post", paths, ["setup_intent", "payment_intent"])


# --- the admin ----------------------------------------------------------------------------------


ADMIN_ACTIONS = {
    "/admin/billing/invoice/": ["refund_invoices", "cancel_invoices", "retry_now"],
    "/admin/orders/order/": [
        "action_order_refund_admin",
        "action_order_cancel_admin",
        "action_order_mark_delivered_seller",
        "action_order_confirm_received_admin",
        "action_order_confirmation_email_resend_admin",
    ],
    "/admin/payouts/payout/": [
        "mark_paid",
        "mark_failed",
        "cancel",
        "export_csv",
        "export_csv_again",
        "check_with_stripe",
    ],
}


@pytest.mark.parametrize("changelist", sorted(ADMIN_ACTIONS))
def test_admin_actions(world, changelist):
    ids = {
        "/admin/billing/invoice/": [i.pk for i in world.invoices],
        "/admin/orders/order/": [o.pk for o in world.orders],
        "/admin/payouts/payout/": [p.pk for p in world.payouts],
    }[changelist]
    body = st.fixed_dictionaries(
        {
            "action": st.sampled_from([*ADMIN_ACTIONS[changelist], "delete_selected", "x"]),
            "_selected_action": st.lists(st.sampled_from([*map(str, ids), "0", "-1", "x"]), max_size=3),
        },
        optional={"apply": st.just("1"), "amount": values, "reason": values},
    )
    _fuzz(world, "post", [changelist], ["action", "_selected_action", "apply", "amount", "reason"], body)


def test_admin_lists_with_awkward_filters(world):
    fields = ["waiting_days", "status__exact", "q", "o", "p", "created_at__gte", "outcome"]
    paths = ["/admin/orders/order/", "/admin/billing/invoice/", "/admin/stripe_integration/webhookevent/"]
    _fuzz(world, "get", paths, fields)


def test_admin_settings_forms(world):
    fields = [
        "delay_days",
        "schedule",
        "month_days",
        "weekdays",
        "timezone",
        "holiday_country",
        "minimum_payout_amount",
        "minimum_payout_by_currency",
        "platform_fee_bps",
        "provider",
        "retry_delays",
        "final_action",
        "grace_period_days",
        "ambiguous_retry_cap",
    ]
    paths = [
        f"/admin/finance/payoutcyclesettings/{PayoutCycleSettings.load().pk}/change/",
        "/admin/finance/payoutcyclesettings/preview/",
        f"/admin/billing/dunningpolicy/{DunningPolicy.load().pk}/change/",
    ]
    _fuzz(world, "post", paths, fields)


# --- Stripe's webhooks --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | values,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(values, children, max_size=3),
    max_leaves=8,
)
EVENT_TYPES = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "refund.created",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "transfer.reversed",
    "customer.created",
]
stripe_objects = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.sampled_from(["pi_123", "re_123", "dp_123", "tr_123", "pi_\x00"]), json_values),
        "object": st.sampled_from(["payment_intent", "refund", "dispute", "charge", "transfer"]),
        "metadata": json_values,
        "payment_intent": json_values,
        "refunds": json_values,
        "amount": json_values,
        "currency": json_values,
    },
)
events = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.sampled_from(["evt_1", "evt_" + "x" * 300]), json_values),
        "type": st.one_of(st.sampled_from(EVENT_TYPES), json_values),
        "data": st.one_of(
            st.fixed_dictionaries({"object": st.one_of(stripe_objects, json_values)}), json_values
        ),
    },
)


def _signed(body: bytes, secret="whsec_localstripe") -> str:
    at = int(time.time())
    signature = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={signature}"


def _deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


# What Stripe's secret could sign that is not an event this product can apply.
MALFORMED_EVENTS = [
    {"id": "evt_1", "type": "payment_intent.succeeded", "data": "a string"},
    {"id": "evt_2", "type": "payment_intent.succeeded", "data": ["a", "list"]},
    {"id": ["evt_3"], "type": "refund.created", "data": {"object": {}}},
    {"id": "evt_" + "x" * 10_000, "type": "refund.created", "data": {"object": {}}},
    {"id": "evt_5", "type": "charge.dispute.created", "data": {"object": {"id": "dp_unknown_at_stripe"}}},
    {"id": "evt_6", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1", "metadata": []}}},
    {"id": "evt_7", "type": "charge.refunded", "data": {"object": {"refunds": {"data": ["re_1", 5]}}}},
    {"id": "evt_8", "type": "customer.created", "data": {"object": {"name": "lost\x00broken"}}},
    {"id": "evt_9", "type": "transfer.reversed", "data": {"object": _deep(200)}},
]


def test_stripe_webhooks(world):
    clients = _clients(world)
    bodies = st.one_of(
        events.map(lambda e: json.dumps(e).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
    )

    def run(role, body, signed):
        header = _signed(body) if signed else "t=1,v1=00"
        _send(
            world,
            role,
            clients[role],
            "post",
            "/webhooks/stripe/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        )

    test = given(role=st.sampled_from(ROLES), body=bodies, signed=st.sampled_from([True, True, True, False]))(
        run
    )
    raw = [json.dumps(event).encode() for event in MALFORMED_EVENTS] + [b"\x00{", b'{"id": "evt_cut"']
    for n, body in enumerate(raw):
        test = example(role=ROLES[n % len(ROLES)], body=body, signed=True)(test)
    FUZZ(test)()
