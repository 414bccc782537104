"""The dispatch table: one handler per Stripe event type, registered by the app that owns
the event; types nobody handles are ignored."""

import ast
from pathlib import Path

import pytest

from billing.stripe_events import payment_intent_event_apply, refund_event_apply
from payouts.stripe_events import transfer_event_apply
from stripe_integration import events
from stripe_integration.events import EventHandlerConflict, EventTable, event_handler_register


def _first(event):
    return "first"


def _second(event):
    return "second"


def test_a_second_handler_for_one_event_type_is_refused():
    table = EventTable()
    table.register("transfer.reversed", _first)
    with pytest.raises(EventHandlerConflict, match="'transfer.reversed' would have two handlers"):
        table.register("transfer.reversed", _second)
    assert table.dispatch({"type": "transfer.reversed"}) == "first"


def test_a_prefix_and_a_type_under_it_are_two_handlers_for_one_type_and_are_refused():
    table = EventTable()
    table.register("payment_intent.*", _first)
    with pytest.raises(EventHandlerConflict):
        table.register("payment_intent.succeeded", _second)
    with pytest.raises(EventHandlerConflict):
        table.register("payment_intent.amount.*", _second)
    other = EventTable()
    other.register("refund.updated", _first)
    with pytest.raises(EventHandlerConflict):
        other.register("refund.*", _second)
    assert table.registrations() == {"payment_intent.*": _first}
    assert other.registrations() == {"refund.updated": _first}


def test_a_prefix_covers_every_type_under_it_and_nothing_else():
    table = EventTable()
    table.register("payment_intent.*", _first)
    table.register("payment_intents.created", _second)
    assert table.dispatch({"type": "payment_intent.succeeded"}) == "first"
    assert table.dispatch({"type": "payment_intent.payment_failed"}) == "first"
    assert table.dispatch({"type": "payment_intents.created"}) == "second"
    assert table.dispatch({"type": "payment_intent"}) == "ignored: event type not used"


def test_the_same_registration_made_again_is_not_a_second_handler():
    table = EventTable()
    table.register("transfer.failed", _first)
    table.register("transfer.failed", _first)  # an app's ready() running twice
    assert table.registrations() == {"transfer.failed": _first}


def test_an_unknown_or_missing_type_is_ignored():
    table = EventTable()
    table.register("transfer.reversed", _first)
    assert table.dispatch({"type": "customer.created"}) == "ignored: event type not used"
    assert table.dispatch({}) == "ignored: event type not used"


def test_the_apps_register_the_events_they_own_once_at_start_up():
    assert events.table.handler_for("payment_intent.succeeded") is payment_intent_event_apply
    assert events.table.handler_for("payment_intent.payment_failed") is payment_intent_event_apply
    assert events.table.handler_for("refund.updated") is refund_event_apply
    assert events.table.handler_for("charge.refunded") is refund_event_apply
    assert events.table.handler_for("transfer.reversed") is transfer_event_apply
    assert events.table.handler_for("transfer.failed") is transfer_event_apply
    assert events.table.handler_for("charge.succeeded") is None
    with pytest.raises(EventHandlerConflict):
        event_handler_register("transfer.reversed", _second)
    assert events.table.handler_for("transfer.reversed") is transfer_event_apply


def test_the_package_imports_no_business_app():
    """Business apps import stripe_integration, never the other way round (DESIGN.md 4)."""
    package = Path(events.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        if "tests" in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            found += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] in {"orders", "billing", "payouts", "finance"}
            ]
    assert found == []
