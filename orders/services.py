"""
Every change to an order goes through one of these services.

Each one opens a transaction, locks the order row (SELECT ... FOR UPDATE), checks who is
acting and that the order is still in the state the person saw, applies the transition,
saves, and queues its emails in the same transaction (marketplace/outbox.py): a
rolled-back change sends nothing, a broker outage only delays an email, and an email that
fails later never undoes the change.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import ConcurrentTransition, can_proceed

from billing import services as billing
from billing.selectors import disputes_open_for_order, invoice_for_order
from marketplace.exceptions import ApplicationError
from marketplace.fsm import transition_custom
from marketplace.money import currency_clean, format_money
from payouts import services as payouts

from .emails import order_email_send
from .models import Order, OrderEvent, OrderItem, OrderSettings

logger = logging.getLogger(__name__)
S = Order.Status


class Actor(models.TextChoices):
    """The part someone plays in an order; the label is how messages name them."""

    BUYER = "buyer", "the buyer"
    SELLER = "seller", "the seller"
    ADMIN = "admin", "platform staff"
    SYSTEM = "system", "the system"


# Who may take each transition (DESIGN.md 3.1). An admin may also act on behalf of the
# buyer or the seller, with a reason, from the Django admin. This policy stays here, beside
# `actor_of` and `_acting`, rather than in the transitions' `custom` (which holds only
# their words): the model knows nothing of buyers and sellers acting.
WHO_MAY = {
    "pay": {Actor.SYSTEM},
    "cancel": {Actor.BUYER, Actor.ADMIN, Actor.SYSTEM},
    "mark_shipped": {Actor.SELLER},
    "mark_delivered": {Actor.SELLER},
    # SYSTEM: only the auto-confirm task, and only when an admin has switched it on.
    "confirm_received": {Actor.BUYER, Actor.ADMIN, Actor.SYSTEM},
    "report_not_received": {Actor.BUYER},
    "resolve_and_confirm_delivery": {Actor.SELLER},
    "refund": {Actor.SELLER, Actor.ADMIN},
    # Order Settings' timeout for paid orders never shipped (off unless set).
    "cancel_unshipped": {Actor.SYSTEM},
}

MSG_NOT_YOURS = "Only {who} can {action} this order."
MSG_WRONG_STATE = "This order is {status}, so it cannot be {action} now."
MSG_CHANGED = (
    "This order changed while you were looking at it: it is now {status}. Here is its current state."
)
MSG_STALE_ROUND = "This link is from an earlier confirmation request. Use the link in the most recent email about this order."
MSG_REASON_REQUIRED = "Give a reason: it goes on the order's timeline."
MSG_ON_BEHALF_ONLY_STAFF = "Only platform staff can act on behalf of the buyer or the seller."
MSG_MESSAGE_TOO_LONG = "Keep the message under 1,000 characters."
MSG_NO_ITEMS = "An order needs at least one item."
MSG_SAME_PERSON = "A seller cannot place an order with themselves."
MSG_BEING_CANCELED = (
    "This order was not shipped in time: it is being canceled and the buyer refunded in full, "
    "so it cannot be {action} now."
)

MESSAGE_MAX_LENGTH = 1000


class OrderChanged(ApplicationError):
    """The order is no longer in the state the person acted on; `order` is its current state."""

    def __init__(self, order):
        super().__init__(MSG_CHANGED.format(status=order.get_status_display().lower()))
        self.order = order


def actor_of(*, order: Order, user) -> Actor | None:
    """The part `user` plays in `order`, or None for a stranger. `user=None` is the system."""
    if user is None:
        return Actor.SYSTEM
    if not user.is_authenticated or not user.is_active:
        return None
    if user.pk == order.seller_id:
        return Actor.SELLER
    if user.pk == order.buyer_id:
        return Actor.BUYER
    if user.is_staff:
        return Actor.ADMIN
    return None


def order_allowed_transitions(*, order: Order, user) -> list[str]:
    """The transitions `user` may take on `order` right now (for showing buttons)."""
    role = actor_of(order=order, user=user)
    return [
        name
        for name, roles in WHO_MAY.items()
        if role in roles and role != Actor.SYSTEM and can_proceed(getattr(order, name))
    ]


@dataclass(frozen=True)
class _Acting:
    role: Actor
    description: str


def _acting(*, order, name, by, on_behalf_of, reason) -> _Acting:
    role = actor_of(order=order, user=by)
    action = _words(name)["verb"]
    if on_behalf_of:
        if role != Actor.ADMIN:
            raise ApplicationError(MSG_ON_BEHALF_ONLY_STAFF)
        if not reason.strip():
            raise ApplicationError(MSG_REASON_REQUIRED)
        role = on_behalf_of
        reason = f"By {by.email} on behalf of {Actor(on_behalf_of).label}: {reason.strip()}"
    elif role == Actor.ADMIN and not reason.strip():
        raise ApplicationError(MSG_REASON_REQUIRED)
    if role not in WHO_MAY[name]:
        allowed = sorted(WHO_MAY[name] - {Actor.SYSTEM})
        who = " or ".join(Actor(r).label for r in allowed) or Actor.SYSTEM.label
        raise ApplicationError(MSG_NOT_YOURS.format(who=who, action=action))
    return _Acting(role=role, description=reason.strip())


def _apply(
    *, order_id, name, by, expected_status=None, expected_round=None, on_behalf_of=None, reason="", **kwargs
):
    """Lock the order, check actor and state, take transition `name` and save.
    Must run inside transaction.atomic(); returns the saved order."""
    order, acting = _checked(
        order_id=order_id,
        name=name,
        by=by,
        expected_status=expected_status,
        expected_round=expected_round,
        on_behalf_of=on_behalf_of,
        reason=reason,
    )
    getattr(order, name)(by=by, description=acting.description or None, **kwargs)
    try:
        order.save()
    except ConcurrentTransition as exc:  # belt and braces: the row lock should prevent it
        raise OrderChanged(Order.objects.get(pk=order_id)) from exc
    return order


def _checked(*, order_id, name, by, expected_status=None, expected_round=None, on_behalf_of=None, reason=""):
    """Lock the order and check that `by` may take transition `name` on it now, in the
    state the person saw. Returns the locked order and who is acting."""
    try:
        order = Order.objects.select_for_update().get(pk=order_id)
    except Order.DoesNotExist as exc:
        raise ApplicationError("There is no such order.") from exc
    acting = _acting(order=order, name=name, by=by, on_behalf_of=on_behalf_of, reason=reason)
    if expected_round is not None and order.confirmation_round != expected_round:
        raise ApplicationError(MSG_STALE_ROUND)
    if expected_status is not None and order.status != expected_status:
        raise OrderChanged(order)
    _state_allows(order, name)
    return order, acting


def _state_allows(order: Order, name: str) -> None:
    if order.being_canceled_unshipped and name != "cancel_unshipped":
        raise ApplicationError(MSG_BEING_CANCELED.format(action=_words(name)["past"]))
    if not can_proceed(getattr(order, name)):
        raise ApplicationError(
            MSG_WRONG_STATE.format(status=order.get_status_display().lower(), action=_words(name)["past"])
        )


def order_transition_check(*, order: Order, name: str, by, on_behalf_of=None, reason: str = "") -> None:
    """Raise ApplicationError, saying why, when `by` may not take transition `name` on
    `order` as it is now. Nothing is locked: admin actions check every selected order with
    it before changing any, and the service checks again under the lock."""
    _acting(order=order, name=name, by=by, on_behalf_of=on_behalf_of, reason=reason)
    _state_allows(order, name)


def _words(name: str) -> dict:
    """The verb and past tense of transition `name`, from its `@transition(custom=...)`."""
    return transition_custom(Order)[name]


def _queue_email(order_id: int, kind: str, **kwargs) -> None:
    """Render an order email now, from the order as this transaction leaves it, and
    queue it in the outbox: it commits with the change (or rolls back with it) and a
    worker sends it after commit."""
    order_email_send(order_id=order_id, kind=kind, **kwargs)


# --- placing an order ------------------------------------------------------------------


@dataclass(frozen=True)
class ItemLine:
    title: str
    quantity: int
    unit_amount: int


def order_place(*, buyer, seller, currency: str, items: list[ItemLine]) -> Order:
    """Create an order in `pending_payment`; its total is the sum of its lines."""
    if not items:
        raise ApplicationError(MSG_NO_ITEMS)
    if buyer.pk == seller.pk:
        raise ApplicationError(MSG_SAME_PERSON)
    for line in items:
        if line.quantity < 1 or line.unit_amount < 0:
            raise ApplicationError("Each item needs a quantity of at least 1 and a price of zero or more.")
    try:
        currency = currency_clean(currency)
    except ValueError as exc:
        raise ApplicationError(str(exc)) from exc
    total = sum(line.quantity * line.unit_amount for line in items)
    with transaction.atomic():
        order = Order.objects.create(buyer=buyer, seller=seller, currency=currency, total_amount=total)
        OrderItem.objects.bulk_create(
            OrderItem(order=order, title=line.title, quantity=line.quantity, unit_amount=line.unit_amount)
            for line in items
        )
        # The order's invoice is charged to the buyer's saved card once this commits; its
        # settlement moves the order to paid (billing calls order_pay).
        billing.invoice_create(
            customer=billing.customer_get_or_create(user=buyer),
            currency=order.currency,
            lines=[billing.Line(line.title, line.quantity, line.unit_amount) for line in items],
            order=order,
        )
    return order


# --- transitions ---------------------------------------------------------------------


def order_pay(*, order_id: int) -> Order:
    """The order's payment settled (called by billing when the order's invoice settles)."""
    with transaction.atomic():
        order = _apply(order_id=order_id, name="pay", by=None)
        _queue_email(order.pk, "seller_new_paid_order")
    return order


def order_cancel(
    *, order_id: int, by=None, reason: str = "", expected_status=None, on_behalf_of=None
) -> Order:
    """Cancel an order whose payment has not settled."""
    with transaction.atomic():
        order = _apply(
            order_id=order_id,
            name="cancel",
            by=by,
            reason=reason,
            expected_status=expected_status,
            on_behalf_of=on_behalf_of,
        )
        invoice = invoice_for_order(order_id=order.pk)
        if invoice is not None and invoice.status in billing.INVOICE_OPEN:
            # Refuses (and rolls the cancel back) while a charge's answer is outstanding.
            billing.invoice_cancel(invoice_id=invoice.pk, by=by, reason="Order canceled")
        _queue_email(order.pk, "buyer_order_canceled")
    return order


def order_mark_shipped(
    *,
    order_id: int,
    by,
    carrier: str = "",
    tracking_number: str = "",
    expected_status=None,
    on_behalf_of=None,
    reason: str = "",
) -> Order:
    with transaction.atomic():
        return _apply(
            order_id=order_id,
            name="mark_shipped",
            by=by,
            expected_status=expected_status,
            on_behalf_of=on_behalf_of,
            reason=reason,
            carrier=carrier.strip()[:100],
            tracking_number=tracking_number.strip()[:100],
        )


def order_mark_delivered(
    *, order_id: int, by, expected_status=None, on_behalf_of=None, reason: str = ""
) -> Order:
    """The seller says the order arrived: ask the buyer to confirm (round 1)."""
    with transaction.atomic():
        order = _apply(
            order_id=order_id,
            name="mark_delivered",
            by=by,
            expected_status=expected_status,
            on_behalf_of=on_behalf_of,
            reason=reason,
        )
        _queue_email(order.pk, "buyer_confirmation_request", round=order.confirmation_round)
    return order


def order_confirm_received(
    *, order_id: int, by, expected_status=None, expected_round=None, on_behalf_of=None, reason: str = ""
) -> Order:
    """The buyer has the item: the order completes and the seller's payout clock starts."""
    with transaction.atomic():
        order = _apply(
            order_id=order_id,
            name="confirm_received",
            by=by,
            expected_status=expected_status,
            expected_round=expected_round,
            on_behalf_of=on_behalf_of,
            reason=reason,
        )
        # Same transaction: a completed order always has its earning, and vice versa.
        payouts.earning_create_for_completed_order(order=order)
        # A dispute opened while the order was on its way held nothing (nothing was earned
        # yet): the earning is held from the moment it exists.
        for dispute in disputes_open_for_order(order_id=order.pk):
            payouts.earning_hold_for_dispute(order=order, amount=dispute.amount, reference=dispute.stripe_id)
        _queue_email(order.pk, "seller_order_completed")
    return order


def order_report_not_received(
    *,
    order_id: int,
    by,
    message: str = "",
    expected_status=None,
    expected_round=None,
    on_behalf_of=None,
    reason: str = "",
) -> Order:
    """The buyer has not received the item: the seller must act; the buyer's message goes
    on the timeline and to the seller."""
    message = message.strip()
    if len(message) > MESSAGE_MAX_LENGTH:
        raise ApplicationError(MSG_MESSAGE_TOO_LONG)
    with transaction.atomic():
        order = _apply(
            order_id=order_id,
            name="report_not_received",
            by=by,
            expected_status=expected_status,
            expected_round=expected_round,
            on_behalf_of=on_behalf_of,
            reason=reason or message,
        )
        _queue_email(order.pk, "seller_not_received", message=message)
    return order


def order_resolve_and_confirm_delivery(
    *, order_id: int, by, expected_status=None, on_behalf_of=None, reason: str = ""
) -> Order:
    """The seller and buyer sorted it out: ask the buyer to confirm again (round k+1)."""
    with transaction.atomic():
        order = _apply(
            order_id=order_id,
            name="resolve_and_confirm_delivery",
            by=by,
            expected_status=expected_status,
            on_behalf_of=on_behalf_of,
            reason=reason,
        )
        _queue_email(order.pk, "buyer_confirmation_request", round=order.confirmation_round)
    return order


def order_refund(
    *, order_id: int, by, reason: str, amount: int | None = None, expected_status=None, on_behalf_of=None
) -> Order:
    """Refund the order in full (`amount` None) or in part. The one refund path: the
    buyer's money goes back through the order's invoice, and only once Stripe has
    confirmed the refund does the order move, the seller's earning get reversed (or clawed
    back after payout) and buyer and seller get emailed (`order_refund_confirmed`, called
    by billing through the invoice's owner). A refund Stripe refuses leaves the order as it
    was (`order_refund_refused`). An order with nothing charged through Stripe (no invoice,
    or a zero one) is refunded at once."""
    if not reason.strip():
        raise ApplicationError("Give a reason for the refund: the buyer sees it.")
    with transaction.atomic():
        order, acting = _checked(
            order_id=order_id,
            name="refund",
            by=by,
            reason=reason,
            expected_status=expected_status,
            on_behalf_of=on_behalf_of,
        )
        amount = order.refundable_amount if amount is None else amount
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ApplicationError("The refund amount must be more than zero.")
        if amount > order.refundable_amount:
            raise ApplicationError(
                f"At most {format_money(order.refundable_amount, order.currency)} of order #{order.pk} can still be refunded."
            )
        OrderEvent.objects.create(
            order=order,
            by=by,
            kind=OrderEvent.Kind.REFUND_REQUESTED,
            note=f"Refund of {format_money(amount, order.currency)} requested: {acting.description}",
        )
        invoice = invoice_for_order(order_id=order.pk)
        if invoice is None or invoice.refundable_amount == 0:
            return order_refund_confirmed(order_id=order.pk, amount=amount, reason=acting.description, by=by)
        # Stripe's answer comes back through billing (orders/invoice_events.py); a zero
        # invoice answers at once. Retried while Stripe is down until it goes through.
        billing.invoice_refund(invoice_id=invoice.pk, amount=amount, by=by, reason=acting.description)
    return Order.objects.get(pk=order.pk)


def order_refund_confirmed(
    *, order_id: int, amount: int, reason: str, by=None, reference: str = "", email_seller: bool = True
) -> Order:
    """Stripe confirmed a refund of `amount` of the order (whoever started it: the seller,
    staff in either admin, the Stripe Dashboard, a lost dispute). Records it, moves the
    order to refunded once nothing is left, takes the seller's earning back in proportion,
    and emails the buyer and the seller."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        amount = min(amount, order.refundable_amount)
        if amount <= 0:
            return order
        Order.objects.filter(pk=order.pk).update(amount_refunded=F("amount_refunded") + amount)
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.refundable_amount == 0 and order.status == S.PAID and order.being_canceled_unshipped:
            # The Order Settings timeout asked for this refund: the order ends canceled, and
            # both are told so (the seller must not ship it). Never completed: no earning.
            order.cancel_unshipped(by=by, description=reason or None)
            order.save()
            payouts.earning_reverse_for_refunded_order(
                order=order, amount=amount, reference=reference, reason=reason
            )
            _queue_email(order.pk, "buyer_unshipped_canceled", amount=amount, reason=reason)
            _queue_email(order.pk, "seller_unshipped_canceled", amount=amount, reason=reason)
            return order
        if order.refundable_amount == 0 and can_proceed(order.refund):
            order.refund(by=by, description=reason or None)
            order.save()
        else:
            OrderEvent.objects.create(
                order=order,
                by=by,
                kind=OrderEvent.Kind.PARTLY_REFUNDED,
                note=f"{format_money(amount, order.currency)} refunded" + (f": {reason}" if reason else ""),
            )
        payouts.earning_reverse_for_refunded_order(
            order=order, amount=amount, reference=reference, reason=reason
        )
        if email_seller:
            _queue_email(order.pk, "seller_order_refunded", amount=amount, reason=reason)
        _queue_email(order.pk, "buyer_order_refunded", amount=amount, reason=reason)
    return order


def order_refund_refused(*, order_id: int, amount: int, reason: str) -> Order:
    """Stripe refused a refund: the order stays as it was; the seller is told why (staff
    see it on the order's timeline); the buyer is told nothing, since nothing happened.

    When the refund was the Order Settings timeout's, the order is open again (it can be
    shipped), staff find it under the orders list's "Needs staff" filter and its alert,
    and the seller is told that the platform, not they, asked for it and that staff
    follow it up. The timeout does not ask again for this order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        note = f"Stripe refused the refund of {format_money(amount, order.currency)}: {reason}"
        OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.REFUND_REFUSED, note=note[:2000])
        if order.being_canceled_unshipped:
            Order.objects.filter(pk=order.pk).update(
                unshipped_cancel_requested_at=None, unshipped_cancel_refused_at=timezone.now()
            )
            logger.error(
                "Order #%s was not shipped in time, but Stripe refused its full refund: %s", order.pk, reason
            )
            _queue_email(order.pk, "seller_unshipped_cancel_refused", amount=amount, reason=reason)
        else:
            _queue_email(order.pk, "seller_refund_refused", amount=amount, reason=reason)
    return Order.objects.get(pk=order.pk)


# --- disputes ---------------------------------------------------------------------------


def order_dispute_opened(*, order_id: int, dispute_ref: str, amount: int, reason: str) -> Order:
    """The buyer's bank disputed the payment: the seller's earning for it is held (not
    paid, or held back from the next payouts) until the dispute closes."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.DISPUTE_OPENED,
            note=f"The buyer's bank disputed {format_money(amount, order.currency)} ({reason or 'no reason given'}); "
            "the seller's earning is held until it closes.",
        )
        payouts.earning_hold_for_dispute(order=order, amount=amount, reference=dispute_ref)
        _queue_email(order.pk, "seller_dispute_opened", amount=amount, reason=reason)
    return order


def order_dispute_closed(
    *, order_id: int, dispute_ref: str, amount: int, won: bool, fee_amount: int = 0
) -> Order:
    """The dispute closed. Won: the hold is released. Lost: the money went back to the
    buyer, so the order is refunded by that amount through the one refund path (which
    takes the seller's earning back) and the hold is released in its place."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        payouts.earning_release_for_dispute(order=order, reference=dispute_ref)
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.DISPUTE_WON if won else OrderEvent.Kind.DISPUTE_LOST,
            note=f"Dispute {dispute_ref} " + ("won: the seller's earning is released." if won else "lost."),
        )
        if won:
            _queue_email(order.pk, "seller_dispute_won", amount=amount)
        else:
            # One email to the seller for the whole outcome (money taken back and the fee),
            # instead of a refund email and a dispute email.
            order = order_refund_confirmed(
                order_id=order.pk,
                amount=amount,
                reason="The buyer's bank won a dispute",
                reference=dispute_ref,
                email_seller=False,
            )
            fee_line = payouts.earning_charge_dispute_fee(
                order=order, fee_amount=fee_amount, reference=dispute_ref
            )
            _queue_email(
                order.pk,
                "seller_dispute_lost",
                amount=amount,
                fee_amount=-fee_line.amount if fee_line else 0,
            )
    return order


# --- emails and reminders --------------------------------------------------------------


def order_confirmation_email_resend(*, order_id: int, by) -> Order:
    """Send the current round's confirmation email again (admin action)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        order_confirmation_email_resend_check(order=order)
        OrderEvent.objects.create(
            order=order,
            by=by,
            kind=OrderEvent.Kind.EMAIL_RESENT,
            note=f"Confirmation email (round {order.confirmation_round}) sent again.",
        )
        _queue_email(order.pk, "buyer_confirmation_request", round=order.confirmation_round)
    return order


def order_confirmation_email_resend_check(*, order: Order) -> None:
    """Raise ApplicationError when `order` has no confirmation email to send again."""
    if order.status != S.PENDING_CUSTOMER_CONFIRMATION:
        raise ApplicationError(
            f"Order #{order.pk} is {order.get_status_display().lower()}: there is no confirmation to ask for."
        )


def order_cancel_unshipped(*, order_id: int, days: int) -> Order:
    """Order Settings' timeout: a paid order not shipped after `days` days is refunded in
    full through the one refund path, and canceled once Stripe confirms the refund
    (`order_refund_confirmed`); the buyer and the seller are emailed then. Until Stripe
    answers, the order cannot be shipped, delivered or refunded by anyone. An order with
    nothing to give back (a zero total) is canceled at once, without asking Stripe."""
    with transaction.atomic():
        order, acting = _checked(order_id=order_id, name="cancel_unshipped", by=None)
        if order.being_canceled_unshipped or order.unshipped_cancel_refused_at:
            return order  # already asked (Stripe's answer is on its way, or it refused)
        reason = f"Not shipped within {days} day{'s' if days != 1 else ''} of payment"
        OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOT_SHIPPED_IN_TIME, note=reason)
        if order.refundable_amount == 0:
            order.cancel_unshipped(by=None, description=reason)
            order.save()
            _queue_email(order.pk, "buyer_unshipped_canceled", reason=reason)
            _queue_email(order.pk, "seller_unshipped_canceled", reason=reason)
            return order
        order.unshipped_cancel_requested_at = timezone.now()
        order.save(update_fields=["unshipped_cancel_requested_at"])
        invoice = invoice_for_order(order_id=order.pk)
        if invoice is None or invoice.refundable_amount == 0:
            # Nothing of it went through Stripe (no invoice, or a zero one): refunded at once.
            return order_refund_confirmed(order_id=order.pk, amount=order.refundable_amount, reason=reason)
        billing.invoice_refund(invoice_id=invoice.pk, amount=order.refundable_amount, reason=reason)
    return Order.objects.get(pk=order.pk)


@dataclass
class ReminderRun:
    buyer_reminders: int = 0
    seller_reminders: int = 0
    auto_confirmed: int = 0
    ship_reminders: int = 0
    canceled_unshipped: int = 0


def _ship_reminders_send(*, config: OrderSettings, now) -> int:
    """Remind the seller, once, of a paid order not shipped after the setting's days."""
    sent = 0
    due = Order.objects.filter(
        status=S.PAID,
        ship_reminded_at__isnull=True,
        paid_at__lte=now - timedelta(days=config.ship_reminder_days),
    )
    for order_id, paid_at in list(due.values_list("pk", "paid_at")):
        with transaction.atomic():
            if not Order.objects.filter(pk=order_id, status=S.PAID, ship_reminded_at__isnull=True).update(
                ship_reminded_at=now
            ):
                continue  # another worker claimed it, or it shipped meanwhile
            OrderEvent.objects.create(
                order_id=order_id,
                kind=OrderEvent.Kind.SHIP_REMINDED,
                note=f"Paid {config.ship_reminder_days}+ days ago.",
            )
            cancel_on = (
                paid_at + timedelta(days=config.unshipped_cancel_days)
                if config.unshipped_cancel_days
                else None
            )
            _queue_email(
                order_id, "seller_ship_reminder", cancel_on=cancel_on.isoformat() if cancel_on else ""
            )
        sent += 1
    return sent


def order_reminders_send(*, now=None) -> ReminderRun:
    """Remind buyers and sellers who have kept an order waiting, once per round, and
    auto-confirm orders when that admin setting is on. Safe to run at any interval and
    from two workers at once: the conditional UPDATE claims each reminder exactly once."""
    now = now or timezone.now()
    config = OrderSettings.load()
    run = ReminderRun()

    for status, days, field, kind, event in [
        (
            S.PENDING_CUSTOMER_CONFIRMATION,
            config.buyer_reminder_days,
            "buyer_reminded_round",
            "buyer_confirmation_reminder",
            OrderEvent.Kind.BUYER_REMINDED,
        ),
        (
            S.PENDING_SELLER_ACTION,
            config.seller_reminder_days,
            "seller_reminded_round",
            "seller_action_reminder",
            OrderEvent.Kind.SELLER_REMINDED,
        ),
    ]:
        due = Order.objects.filter(
            status=status,
            status_changed_at__lte=now - timedelta(days=days),
            **{f"{field}__lt": F("confirmation_round")},
        ).values_list("pk", "confirmation_round")
        for order_id, round_ in due.iterator():
            with transaction.atomic():
                claimed = Order.objects.filter(pk=order_id, status=status, **{f"{field}__lt": round_}).update(
                    **{field: round_}
                )
                if not claimed:
                    continue
                OrderEvent.objects.create(
                    order_id=order_id, kind=event, note=f"Round {round_}, after {days} days."
                )
                _queue_email(order_id, kind, round=round_)
            if field == "buyer_reminded_round":
                run.buyer_reminders += 1
            else:
                run.seller_reminders += 1

    run.ship_reminders = _ship_reminders_send(config=config, now=now)
    if config.unshipped_cancel_days:
        late = Order.objects.filter(
            status=S.PAID, paid_at__lte=now - timedelta(days=config.unshipped_cancel_days)
        ).filter(unshipped_cancel_requested_at__isnull=True, unshipped_cancel_refused_at__isnull=True)
        for order_id in list(late.values_list("pk", flat=True)):
            try:
                order_cancel_unshipped(order_id=order_id, days=config.unshipped_cancel_days)
            except ApplicationError as exc:
                # Shipped in the meantime, or the refund cannot start now (another refund
                # is on its way): nothing changed, and the next run tries again.
                logger.warning(
                    "Order #%s not shipped in time, could not be canceled on this run: %s", order_id, exc.message
                )
                continue
            run.canceled_unshipped += 1

    if config.auto_confirm_days:
        due_ids = Order.objects.filter(
            status=S.PENDING_CUSTOMER_CONFIRMATION,
            status_changed_at__lte=now - timedelta(days=config.auto_confirm_days),
        ).values_list("pk", flat=True)
        for order_id in list(due_ids):
            try:
                order_confirm_received(
                    order_id=order_id,
                    by=None,
                    expected_status=S.PENDING_CUSTOMER_CONFIRMATION,
                    reason=f"Completed automatically: no answer from the buyer in {config.auto_confirm_days} days.",
                )
            except ApplicationError:
                continue  # the buyer answered in the meantime
            run.auto_confirmed += 1
    return run
