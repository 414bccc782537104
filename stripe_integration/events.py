"""
The dispatch table for Stripe events: one handler per event type.

The app that owns what an event is about registers its handler in its
`AppConfig.ready()` (billing: payments and refunds; payouts: transfers), so this package
never imports a business app. A registration is either one event type
(`"transfer.reversed"`) or every type under a prefix (`"payment_intent.*"`). Two
registrations that would both match some type are refused when the second is made, at
start-up, so for any event type there is at most one handler and no order of
registration to reason about.
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

# A handler applies one event (a Stripe event as a dict) and returns what it did, in
# words, for the event's row in the inbox.
Handler = Callable[[dict], str]

IGNORED = "ignored: event type not used"


class EventHandlerConflict(ImproperlyConfigured):
    """A second handler for an event type that already has one."""


def _overlaps(a: str, b: str) -> bool:
    """Whether two registrations ("type" or "prefix.*") match some event type in common."""
    a_prefix, b_prefix = a.endswith(".*"), b.endswith(".*")
    if a_prefix and b_prefix:
        return a[:-1].startswith(b[:-1]) or b[:-1].startswith(a[:-1])
    if a_prefix:
        return b.startswith(a[:-1])
    if b_prefix:
        return a.startswith(b[:-1])
    return a == b


def _name(handler: Handler) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', repr(handler))}"


class EventTable:
    def __init__(self):
        self._handlers: dict[str, Handler] = {}

    def register(self, event_type: str, handler: Handler) -> None:
        if not event_type or "*" in event_type.removesuffix(".*"):
            raise ValueError(f"Not a Stripe event type or prefix: {event_type!r}.")
        for registered, other in self._handlers.items():
            if not _overlaps(registered, event_type):
                continue
            if registered == event_type and _name(other) == _name(handler):
                return  # the same registration again (an app's ready() run twice)
            raise EventHandlerConflict(
                f"Stripe event {event_type!r} would have two handlers: {_name(handler)} "
                f"and {_name(other)} (registered for {registered!r})."
            )
        self._handlers[event_type] = handler

    def handler_for(self, event_type: str) -> Handler | None:
        if event_type in self._handlers:
            return self._handlers[event_type]
        # At most one prefix matches: overlapping registrations are refused.
        for registered, handler in self._handlers.items():
            if registered.endswith(".*") and event_type.startswith(registered[:-1]):
                return handler
        return None

    def dispatch(self, event: dict) -> str:
        handler = self.handler_for(event.get("type") or "")
        return handler(event) if handler else IGNORED

    def registrations(self) -> dict[str, Handler]:
        return dict(self._handlers)


# The process's table, filled by the apps' ready().
table = EventTable()


def event_handler_register(event_type: str, handler: Handler) -> None:
    """Make `handler` the one handler for `event_type` ("type" or "prefix.*"); raises
    EventHandlerConflict when some type it covers has a handler already."""
    table.register(event_type, handler)


def event_dispatch(event: dict) -> str:
    """Apply an event with its type's handler; returns what was done, for the record."""
    return table.dispatch(event)
