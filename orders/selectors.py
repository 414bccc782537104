from dataclasses import dataclass
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django_fsm_log.models import StateLog

from marketplace.money import format_money

from .models import Order, OrderEvent, OrderSettings


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


def _status_sentence(log, order: Order) -> str:
    """What a status change means, as a sentence about the people in it."""
    who = _who(log.by) if log.by else None
    buyer, seller = str(order.buyer), str(order.seller)
    money = format_money(order.total_amount, order.currency)
    shipped = "shipped the order"
    if order.carrier or order.tracking_number:
        shipped += f" with {order.carrier or 'a carrier'}" + (
            f", tracking number {order.tracking_number}" if order.tracking_number else ""
        )
    sentences = {
        "pay": f"{buyer}'s payment of {money} went through",
        "cancel": f"{who or 'The system'} canceled the order",
        "cancel_unshipped": "The order was canceled because it was not shipped in time; the buyer is refunded in full",
        "mark_shipped": f"{who or seller} {shipped}",
        "mark_delivered": f"{who or seller} marked the order delivered; {buyer} was asked to confirm receipt",
        "confirm_received": f"{who} confirmed the order arrived"
        if who
        else "The order completed by itself: no answer in time",
        "report_not_received": f"{who or buyer} reported the parcel missing",
        "resolve_and_confirm_delivery": f"{who or seller} marked the problem resolved; {buyer} was asked to confirm again",
        "refund": "The order was refunded in full",
    }
    return sentences.get(log.transition) or f"{who or 'The system'} changed the order"


def _event_sentence(event: OrderEvent, order: Order) -> str:
    who = _who(event.by) if event.by else "The system"
    K = OrderEvent.Kind
    return {
        K.BUYER_REMINDED: f"{order.buyer} was reminded to confirm receipt",
        K.SELLER_REMINDED: f"{order.seller} was reminded to sort out the missing parcel",
        K.SHIP_REMINDED: f"{order.seller} was reminded to ship the order",
        K.NOT_SHIPPED_IN_TIME: "The order was not shipped in time: it is being canceled and the buyer refunded in full",
        K.EMAIL_RESENT: f"{who} sent the confirmation email again",
        K.REFUND_REQUESTED: f"{who} asked for a refund",
        K.PARTLY_REFUNDED: "Part of the order was refunded",
        K.REFUND_REFUSED: "Stripe refused the refund; nothing was refunded",
    }.get(event.kind) or event.get_kind_display()


def order_timeline(*, order: Order) -> list[TimelineEntry]:
    """Every status change (from the audit log) and every reminder or resend, oldest
    first, each as a sentence saying who did what ("Bea reported the parcel missing")."""
    entries = [
        TimelineEntry(
            at=log.timestamp, title=_status_sentence(log, order), who=_who(log.by), note=log.description or ""
        )
        for log in StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Order), object_id=order.pk
        ).select_related("by")
    ]
    entries += [
        TimelineEntry(
            at=event.created_at, title=_event_sentence(event, order), who=_who(event.by), note=event.note
        )
        for event in OrderEvent.objects.filter(order=order).select_related("by")
    ]
    return sorted(entries, key=lambda entry: entry.at)


@dataclass(frozen=True)
class NextStep:
    """Who must act next on an order and what happens then, for the person looking."""

    title: str
    text: str


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def order_next_step(*, order: Order, viewer: str) -> NextStep | None:
    """What the buyer (`viewer="buyer"`) or the seller (`"seller"`) is told is next on
    their order page. None once nothing is waiting (completed, refunded, canceled)."""
    settings = OrderSettings.load()
    seller, buyer = str(order.seller), str(order.buyer)
    S = Order.Status
    buyer_view = viewer == "buyer"
    if order.status == S.PENDING_PAYMENT:
        if buyer_view:
            return NextStep(
                "Next: your payment",
                f"We are collecting your payment. Once it goes through, {seller} prepares and ships your order.",
            )
        return NextStep(
            "Next: the buyer's payment",
            "Do not ship yet. We email you as soon as the payment has gone through.",
        )
    if order.status == S.PAID and order.being_canceled_unshipped:
        if buyer_view:
            return NextStep(
                "Being canceled: your refund is on its way",
                f"{seller} did not ship your order in time, so it is being canceled and your payment "
                "refunded in full. We email you once the refund has gone through.",
            )
        return NextStep(
            "Being canceled and refunded",
            "This order was not shipped in time, so it is being canceled and the buyer refunded in full. "
            "Do not ship it: it can no longer be marked as shipped or delivered. We email you once the "
            "refund has gone through.",
        )
    if order.status == S.PAID and order.unshipped_cancel_refused_at and not buyer_view:
        return NextStep(
            "Next: you ship (the cancellation did not go through)",
            "This order was not shipped in time, but Stripe refused the buyer's refund, so it was not "
            "canceled: it is still paid and waiting to be shipped. The platform's staff have been told "
            "and will look into it with you.",
        )
    if order.status == S.PAID:
        deadline = ""
        if settings.unshipped_cancel_days and not order.unshipped_cancel_refused_at:
            deadline = (
                f" If it is not shipped within {_plural(settings.unshipped_cancel_days, 'day')} of payment, "
                "the order is canceled and the buyer refunded in full."
            )
        if buyer_view:
            return NextStep(
                "Next: the seller ships",
                f"{seller} is preparing your order. When it has arrived you will be asked to confirm it.{deadline}",
            )
        return NextStep(
            "Next: you ship",
            f"Ship the order, then mark it as shipped (with the carrier and tracking number) or as delivered.{deadline}",
        )
    if order.status == S.SHIPPED:
        if buyer_view:
            return NextStep(
                "Next: delivery",
                f"Your order is on its way. Once it has arrived, {seller} marks it delivered and we ask you to confirm.",
            )
        return NextStep(
            "Next: you mark it delivered",
            "Once the parcel has arrived, mark the order as delivered: the buyer is then asked to confirm receipt.",
        )
    if order.status == S.PENDING_CUSTOMER_CONFIRMATION:
        auto = (
            f" Without an answer it completes by itself after {_plural(settings.auto_confirm_days, 'day')}."
            if settings.auto_confirm_days
            else ""
        )
        if buyer_view:
            return NextStep(
                "Next: you confirm",
                f"Tell us whether the item arrived. When you confirm, the order is completed and {seller} "
                f"is paid. If it has not arrived, say so and {seller} looks into it.{auto}",
            )
        return NextStep(
            "Next: the buyer confirms",
            f"We asked {buyer} to confirm they received the order, and remind them after "
            f"{_plural(settings.buyer_reminder_days, 'day')}. When they confirm, the order is completed "
            f"and your payout clock starts.{auto}",
        )
    if order.status == S.PENDING_SELLER_ACTION:
        if buyer_view:
            return NextStep(
                "Next: the seller looks into it",
                f"You told us the item has not arrived. {seller} has been told and will get in touch; "
                "once it is sorted out they ask you to confirm again. If it turns up meanwhile, confirm it below.",
            )
        return NextStep(
            "Next: you sort it out",
            f"{buyer} says the item has not arrived. Get in touch with them, then mark the order "
            "resolved (they are asked to confirm again) or refund it. If the parcel turns up, they can "
            f"confirm it themselves. We remind you after {_plural(settings.seller_reminder_days, 'day')}.",
        )
    return None
