"""The emails an order sends. Each kind names its recipient and template; a
confirmation request whose round has passed is not sent (the buyer would get a dead link).
They are rendered inside the transaction that changes the order and queued in the outbox."""

from datetime import datetime

from django.urls import reverse

from marketplace.outbox import outbox_email

from .links import NOT_RECEIVED, RECEIVED, confirmation_url
from .models import Order

# kind -> (recipient, template prefix)
KINDS = {
    "buyer_confirmation_request": ("buyer", "orders/email/confirmation_request"),
    "buyer_confirmation_reminder": ("buyer", "orders/email/confirmation_reminder"),
    "seller_action_reminder": ("seller", "orders/email/seller_action_reminder"),
    "seller_ship_reminder": ("seller", "orders/email/seller_ship_reminder"),
    "seller_not_received": ("seller", "orders/email/seller_not_received"),
    "seller_new_paid_order": ("seller", "orders/email/seller_new_paid_order"),
    "seller_order_completed": ("seller", "orders/email/seller_order_completed"),
    "buyer_order_refunded": ("buyer", "orders/email/buyer_order_refunded"),
    "seller_order_refunded": ("seller", "orders/email/seller_order_refunded"),
    "seller_refund_refused": ("seller", "orders/email/seller_refund_refused"),
    "buyer_order_canceled": ("buyer", "orders/email/buyer_order_canceled"),
    "buyer_unshipped_canceled": ("buyer", "orders/email/buyer_unshipped_canceled"),
    "seller_unshipped_canceled": ("seller", "orders/email/seller_unshipped_canceled"),
    "seller_unshipped_cancel_refused": ("seller", "orders/email/seller_unshipped_cancel_refused"),
    "seller_dispute_opened": ("seller", "orders/email/seller_dispute_opened"),
    "seller_dispute_won": ("seller", "orders/email/seller_dispute_won"),
    "seller_dispute_lost": ("seller", "orders/email/seller_dispute_lost"),
}
NEEDS_OPEN_ROUND = {"buyer_confirmation_request", "buyer_confirmation_reminder"}


def order_email_send(
    *,
    order_id: int,
    kind: str,
    round: int | None = None,
    message: str = "",
    amount: int | None = None,
    reason: str = "",
    fee_amount: int = 0,
    cancel_on: str = "",
) -> bool:
    """Queue one order email in the caller's transaction (marketplace/outbox.py); returns
    False when it no longer makes sense to send it."""
    order = Order.objects.select_related("buyer", "seller").prefetch_related("items").get(pk=order_id)
    if kind in NEEDS_OPEN_ROUND and (
        order.status != Order.Status.PENDING_CUSTOMER_CONFIRMATION or order.confirmation_round != round
    ):
        return False
    recipient, template = KINDS[kind]
    context = {
        "order": order,
        "message": message,
        "round": order.confirmation_round,
        "amount": amount,
        "reason": reason,
        "fee_amount": fee_amount,
        "cancel_on": datetime.fromisoformat(cancel_on) if cancel_on else None,
    }
    if kind in NEEDS_OPEN_ROUND:
        context["received_url"] = confirmation_url(order=order, answer=RECEIVED)
        context["not_received_url"] = confirmation_url(order=order, answer=NOT_RECEIVED)
    context["seller_order_url"] = reverse("orders:seller_order", args=[order.pk])
    context["buyer_order_url"] = reverse("orders:buyer_order", args=[order.pk])
    outbox_email(to=getattr(order, recipient).email, template_prefix=template, context=context)
    return True
