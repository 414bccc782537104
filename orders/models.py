"""
Orders, made exact from the order-completion source document (DESIGN.md section 3.1).

The seed's rule stands: an order is completed only when the buyer confirms receipt
(or, when an admin has switched it on, after K days without an answer).

Transition bodies change only this row. Who may take a transition, locking, emails and
the hand-off to payouts live in `orders.services`.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description


class Order(ConcurrentTransitionMixin, models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Pending payment"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        PENDING_CUSTOMER_CONFIRMATION = "pending_customer_confirmation", "Pending customer confirmation"
        PENDING_SELLER_ACTION = "pending_seller_action", "Pending seller action"
        COMPLETED = "completed", "Completed"
        REFUNDED = "refunded", "Refunded"
        CANCELED = "canceled", "Canceled"

    OPEN_STATUSES = [
        Status.PENDING_PAYMENT,
        Status.PAID,
        Status.SHIPPED,
        Status.PENDING_CUSTOMER_CONFIRMATION,
        Status.PENDING_SELLER_ACTION,
    ]

    # No single-column indexes on buyer, seller or status: the composite indexes below lead
    # with them, and every index is one more write per new order and per status change.
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders_bought", db_index=False
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders_sold", db_index=False
    )
    total_amount = models.BigIntegerField(help_text="In the currency's minor unit (cents).")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. USD.")
    status = FSMField(default=Status.PENDING_PAYMENT, choices=Status.choices, protected=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # Each "please confirm receipt" email starts a round; links carry the round they were
    # sent in, so a link from an earlier email cannot act on a later round.
    confirmation_round = models.PositiveIntegerField(default=0)
    buyer_reminded_round = models.PositiveIntegerField(default=0)
    seller_reminded_round = models.PositiveIntegerField(default=0)
    # When the seller was reminded to ship this paid order (once).
    ship_reminded_at = models.DateTimeField(null=True, blank=True)
    # Order Settings' timeout asked Stripe for the full refund that cancels this paid order
    # and the answer has not come yet: nobody may move the order on meanwhile (it would be
    # shipped while its money goes back). Cleared when Stripe refuses the refund, which
    # sets `unshipped_cancel_refused_at` for staff to look at.
    unshipped_cancel_requested_at = models.DateTimeField(
        null=True, blank=True, verbose_name="not shipped in time: refund asked of Stripe"
    )
    unshipped_cancel_refused_at = models.DateTimeField(
        null=True, blank=True, verbose_name="not shipped in time: refund refused by Stripe"
    )
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    refund_reason = models.TextField(blank=True)
    # What Stripe has confirmed refunded so far (full or partial refunds); the order moves
    # to `refunded` when it reaches the total.
    amount_refunded = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The admin list: newest first, and by status.
            models.Index(fields=["-created_at", "-id"], name="order_newest"),
            models.Index(fields=["status", "-created_at", "-id"], name="order_status_newest"),
            models.Index(fields=["seller", "-created_at", "-id"], name="order_seller_newest"),
            models.Index(
                fields=["seller", "status", "-created_at", "-id"], name="order_seller_status_newest"
            ),
            models.Index(fields=["buyer", "-created_at", "-id"], name="order_buyer_newest"),
            models.Index(fields=["status", "status_changed_at"], name="order_status_waiting"),
            # The few orders the unshipped timeout could not cancel (the admin's alert).
            models.Index(
                fields=["unshipped_cancel_refused_at"],
                condition=models.Q(unshipped_cancel_refused_at__isnull=False),
                name="order_unshipped_refund_refused",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(total_amount__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__gte=0, amount_refunded__lte=models.F("total_amount")),
                name="order_refund_within_total",
            ),
        ]

    def __str__(self):
        return f"Order #{self.pk}"

    @property
    def refundable_amount(self) -> int:
        return self.total_amount - self.amount_refunded

    def _moved(self):
        self.status_changed_at = timezone.now()

    @property
    def being_canceled_unshipped(self) -> bool:
        """The timeout's full refund is on its way (requested, not yet confirmed)."""
        return self.unshipped_cancel_requested_at is not None

    def _not_being_canceled(self) -> bool:
        return not self.being_canceled_unshipped

    # --- transitions (DESIGN.md 3.1). `by` and `description` go to the audit log. ---
    # `custom` holds what people are told: "Only the seller can {verb} this order", "it
    # cannot be {past} now" (orders.services reads them through marketplace.fsm).

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=Status.PENDING_PAYMENT,
        target=Status.PAID,
        custom={"verb": "mark as paid", "past": "paid"},
    )
    def pay(self, *, by=None, description=None):
        self.paid_at = timezone.now()
        self._moved()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=Status.PENDING_PAYMENT,
        target=Status.CANCELED,
        custom={"verb": "cancel", "past": "canceled"},
    )
    def cancel(self, *, by=None, description=None):
        self.canceled_at = timezone.now()
        self._moved()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=Status.PAID,
        target=Status.SHIPPED,
        conditions=[_not_being_canceled],
        custom={"verb": "mark as shipped", "past": "marked as shipped"},
    )
    def mark_shipped(self, *, by=None, description=None, carrier="", tracking_number=""):
        self.carrier = carrier
        self.tracking_number = tracking_number
        self.shipped_at = timezone.now()
        self._moved()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=[Status.PAID, Status.SHIPPED],
        target=Status.PENDING_CUSTOMER_CONFIRMATION,
        conditions=[_not_being_canceled],
        custom={"verb": "mark as delivered", "past": "marked as delivered"},
    )
    def mark_delivered(self, *, by=None, description=None):
        self.confirmation_round += 1
        self._moved()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        # From pending_seller_action too: the parcel the buyer reported missing turned up.
        source=[Status.PENDING_CUSTOMER_CONFIRMATION, Status.PENDING_SELLER_ACTION],
        target=Status.COMPLETED,
        custom={"verb": "confirm receipt of", "past": "confirmed as received"},
    )
    def confirm_received(self, *, by=None, description=None):
        self.completed_at = timezone.now()
        self._moved()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=Status.PENDING_CUSTOMER_CONFIRMATION,
        target=Status.PENDING_SELLER_ACTION,
        custom={"verb": "report as not received", "past": "reported as not received"},
    )
    def report_not_received(self, *, by=None, description=None):
        self._moved()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=Status.PENDING_SELLER_ACTION,
        target=Status.PENDING_CUSTOMER_CONFIRMATION,
        custom={"verb": "mark as resolved", "past": "marked as resolved"},
    )
    def resolve_and_confirm_delivery(self, *, by=None, description=None):
        self.confirmation_round += 1
        self._moved()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=[
            Status.PAID,
            Status.SHIPPED,
            Status.PENDING_CUSTOMER_CONFIRMATION,
            Status.PENDING_SELLER_ACTION,
            Status.COMPLETED,
        ],
        target=Status.REFUNDED,
        conditions=[_not_being_canceled],
        custom={"verb": "refund", "past": "refunded"},
    )
    def refund(self, *, by=None, description=None):
        self.refund_reason = description or ""
        self.refunded_at = timezone.now()
        self._moved()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=Status.PAID,
        target=Status.CANCELED,
        custom={"verb": "cancel", "past": "canceled"},
    )
    def cancel_unshipped(self, *, by=None, description=None):
        """Order Settings' timeout: paid but never shipped. Taken once Stripe has
        confirmed the buyer's full refund (orders.services.order_refund_confirmed), or at
        once when nothing was charged."""
        self.canceled_at = timezone.now()
        self.unshipped_cancel_requested_at = None
        self._moved()


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    title = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_amount = models.BigIntegerField(help_text="Price of one, in the order's currency minor unit.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_item_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(unit_amount__gte=0), name="order_item_amount_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.title}"

    @property
    def line_amount(self) -> int:
        return self.quantity * self.unit_amount


class OrderEvent(models.Model):
    """Something that happened to an order without changing its status (a reminder, an
    email sent again). The timeline shows these beside the status changes."""

    class Kind(models.TextChoices):
        BUYER_REMINDED = "buyer_reminded", "Buyer reminded to confirm"
        SELLER_REMINDED = "seller_reminded", "Seller reminded to act"
        SHIP_REMINDED = "ship_reminded", "Seller reminded to ship"
        NOT_SHIPPED_IN_TIME = "not_shipped_in_time", "Not shipped in time: canceling with a full refund"
        EMAIL_RESENT = "email_resent", "Confirmation email sent again"
        REFUND_REQUESTED = "refund_requested", "Refund requested"
        PARTLY_REFUNDED = "partly_refunded", "Partly refunded"
        REFUND_REFUSED = "refund_refused", "Refund refused by Stripe"
        DISPUTE_OPENED = "dispute_opened", "Disputed by the buyer's bank"
        DISPUTE_WON = "dispute_won", "Dispute won"
        DISPUTE_LOST = "dispute_lost", "Dispute lost"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} on order #{self.order_id}"


class OrderSettings(models.Model):
    """One record, edited in the admin: reminders, auto-confirmation and link lifetime."""

    buyer_reminder_days = models.PositiveIntegerField(
        default=3, help_text="Remind the buyer after this many days waiting for their confirmation."
    )
    seller_reminder_days = models.PositiveIntegerField(
        default=5, help_text="Remind the seller after this many days in 'pending seller action'."
    )
    ship_reminder_days = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text="Remind the seller of a paid order that is not shipped after this many days.",
    )
    # Empty or 0: off. Both are read as "never" everywhere (a falsy number of days).
    unshipped_cancel_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "Cancel a paid order that is still not shipped after this many days, and refund the "
            "buyer in full (an order that cost nothing is just canceled). Leave empty or enter 0 "
            "(the default is empty) to never cancel an order on its own: sellers are then only reminded."
        ),
    )
    auto_confirm_days = models.PositiveIntegerField(
        null=True,
        validators=[MinValueValidator(1)],
        blank=True,
        help_text=(
            "Complete an order the buyer has not answered after this many days. Leave empty "
            "(the default) to keep the rule that only the buyer's confirmation completes an order."
        ),
    )
    link_lifetime_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="How long the links in a confirmation email keep working.",
    )

    class Meta:
        verbose_name = "order settings"
        verbose_name_plural = "order settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="order_settings_single_row"),
            models.CheckConstraint(
                condition=models.Q(link_lifetime_days__gte=1), name="order_link_lifetime_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(auto_confirm_days__gte=1), name="order_auto_confirm_positive"
            ),
        ]

    def __str__(self):
        return "Order settings"

    @classmethod
    def load(cls) -> "OrderSettings":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj
