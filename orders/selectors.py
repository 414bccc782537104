from dataclasses import dataclass
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django_fsm_log.models import StateLog

from .models import Order, OrderEvent


def seller_orders_list(*, seller, status: str | None = None):
    """A seller's orders, newest first; buyer and items are fetched in a fixed number of
    queries whatever the page size."""
    orders = Order.objects.filter(seller=seller).select_related("buyer").prefetch_related("items")
    if status:
        orders = orders.filter(status=status)
    return orders.order_by("-created_at", "-id")


def buyer_orders_list(*, buyer):
    return (
        Order.objects.filter(buyer=buyer)
        .select_related("seller")
        .prefetch_related("items")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    title: str
    who: str
    note: str


def _who(user) -> str:
    return user.full_name or user.email if user else "System"


def order_timeline(*, order: Order) -> list[TimelineEntry]:
    """Every status change (from the audit log) and every reminder or resend, oldest first."""
    status_names = dict(Order.Status.choices)
    entries = [
        TimelineEntry(
            at=log.timestamp,
            title=f"{status_names.get(log.source_state, log.source_state)} → {status_names.get(log.state, log.state)}",
            who=_who(log.by),
            note=log.description or "",
        )
        for log in StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Order), object_id=order.pk
        ).select_related("by")
    ]
    entries += [
        TimelineEntry(
            at=event.created_at, title=event.get_kind_display(), who=_who(event.by), note=event.note
        )
        for event in OrderEvent.objects.filter(order=order).select_related("by")
    ]
    return sorted(entries, key=lambda entry: entry.at)
