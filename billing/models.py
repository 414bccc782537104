"""
Billing, made exact from the recurring-billing source document (DESIGN.md section 3.2).

An invoice is what someone owes; a transaction is one charge or refund of an invoice;
an attempt is one call to the gateway for a transaction, with the raw codes it answered.
Transition bodies change only their own row. Locking, the gateway calls, emails and the
hand-off to orders live in `billing.services`.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from marketplace.platform_time import datetime_text

# The Stripe event inbox is stripe_integration's now (same table); importable here as before.
from stripe_integration.models import WebhookEvent  # noqa: F401

from .declines import DeclineCategory


def parse_retry_delays(text: str) -> list[int]:
    """'1, 3, 5, 7' -> [1, 3, 5, 7]. Raises ValidationError with a message for people."""
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    if not parts:
        raise ValidationError("Give at least one retry delay, in days, e.g. 1, 3, 5, 7.")
    delays = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= 60:
            raise ValidationError(
                f"“{part}” is not a delay: use whole days from 1 to 60, separated by commas."
            )
        delays.append(int(part))
    if len(delays) > 12:
        raise ValidationError("Use at most 12 retries.")
    return delays


class DunningPolicy(models.Model):
    """One record, edited in the admin. An invoice copies the policy when its first charge
    starts, so editing the policy never reshuffles invoices already in dunning."""

    class FinalAction(models.TextChoices):
        CANCEL = "cancel", "Cancel the subscription"
        UNPAID = "unpaid", "Mark the subscription unpaid"
        PAST_DUE = "past_due", "Leave the subscription past due"

    retry_delays = models.CharField(
        max_length=100,
        default="1, 3, 5, 7",
        help_text="Days to wait before each retry after a soft decline, counted from the failed try.",
    )
    final_action = models.CharField(max_length=20, choices=FinalAction.choices, default=FinalAction.CANCEL)
    grace_period_days = models.PositiveIntegerField(
        default=3,
        validators=[MaxValueValidator(60)],
        help_text=(
            "Days between the last failed retry and the final action (for subscriptions) or the "
            "cancellation of an unpaid order. The customer can still add a card meanwhile."
        ),
    )
    ambiguous_retry_cap = models.PositiveIntegerField(
        default=2,
        validators=[MinValueValidator(0), MaxValueValidator(12)],
        help_text="Generic declines (do_not_honor, generic_decline, call_issuer) are retried at most this often.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "dunning policy"
        verbose_name_plural = "dunning policy"

    def __str__(self):
        return "Dunning policy"

    def clean(self):
        try:
            self.retry_delays = ", ".join(str(d) for d in parse_retry_delays(self.retry_delays))
        except ValidationError as exc:
            raise ValidationError({"retry_delays": exc.messages}) from exc

    @classmethod
    def load(cls) -> "DunningPolicy":
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy

    def snapshot(self) -> dict:
        return {
            "retry_delays": parse_retry_delays(self.retry_delays),
            "final_action": self.final_action,
            "grace_period_days": self.grace_period_days,
            "ambiguous_retry_cap": self.ambiguous_retry_cap,
        }


class Customer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="billing")
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    default_payment_method = models.ForeignKey(
        "PaymentMethod", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return str(self.user)


class PaymentMethod(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="payment_methods")
    stripe_id = models.CharField(max_length=255, unique=True)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    # Set after a hard decline: this card is never charged again.
    unusable_since = models.DateTimeField(null=True, blank=True)
    unusable_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        label = self.short_label
        if self.exp_month and self.exp_year:
            label += f" (exp. {self.exp_month:02d}/{self.exp_year % 100:02d})"
        return label

    @property
    def short_label(self) -> str:
        """The card as its owner knows it: "Visa •••• 4242"."""
        return f"{self.brand.title() or 'Card'} •••• {self.last4 or '????'}"

    @property
    def usable(self) -> bool:
        return self.unusable_since is None


class Plan(models.Model):
    class IntervalUnit(models.TextChoices):
        DAY = "day", "day"
        WEEK = "week", "week"
        MONTH = "month", "month"
        YEAR = "year", "year"

    name = models.CharField(max_length=100)
    amount = models.BigIntegerField(validators=[MinValueValidator(0)], help_text="In minor units (cents).")
    currency = models.CharField(max_length=3, default="USD")
    interval_unit = models.CharField(max_length=10, choices=IntervalUnit.choices, default=IntervalUnit.MONTH)
    interval_count = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="plan_amount_not_negative"),
            models.CheckConstraint(condition=models.Q(interval_count__gte=1), name="plan_interval_positive"),
        ]

    def __str__(self):
        return self.name


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        UNPAID = "unpaid", "Unpaid"
        CANCELED = "canceled", "Canceled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = FSMField(default=Status.ACTIVE, choices=Status.choices, protected=True, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    # Periods 0 .. periods_invoiced-1 have invoices; the next starts at started_at + k·interval.
    periods_invoiced = models.PositiveIntegerField(default=0)
    next_invoice_at = models.DateTimeField(db_index=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)

    def __str__(self):
        return f"{self.plan} for {self.customer}"

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.ACTIVE, target=Status.PAST_DUE)
    def mark_past_due(self, *, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.PAST_DUE, Status.UNPAID], target=Status.ACTIVE)
    def reactivate(self, *, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PAST_DUE, target=Status.UNPAID)
    def mark_unpaid(self, *, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.ACTIVE, Status.PAST_DUE, Status.UNPAID], target=Status.CANCELED)
    def cancel(self, *, by=None, description=None):
        self.canceled_at = timezone.now()
        self.cancel_reason = (description or "")[:300]


# How a refund Stripe refused starts its note, on the refund's attempt and on the invoice's
# return to settled (`finish_partial_refund` with nothing refunded): the status history
# tells it from a partial refund by it (billing.history_words).
REFUND_REFUSED_NOTE = "refund refused"


class Invoice(models.Model):
    class Status(models.TextChoices):
        INIT = "init", "Open"
        PROCESSING = "processing", "Processing"
        SETTLED = "settled", "Settled"
        PROCESS_FAILED = "process_failed", "Payment failed"
        REFUNDING = "refunding", "Refunding"
        REFUNDED = "refunded", "Refunded"
        CANCELED = "canceled", "Canceled"

    # Statuses in which the invoice is still being collected.
    OPEN_STATUSES = (Status.INIT, Status.PROCESSING, Status.PROCESS_FAILED)

    class Purpose(models.TextChoices):
        """What an invoice is for; each purpose has one owner (billing.invoice_owners)."""

        ORDER = "order", "Order"
        SUBSCRIPTION = "subscription", "Subscription"
        ONE_OFF = "one_off", "One-off charge"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    # Period k of the subscription: unique, so yielding twice never bills a period twice.
    period_index = models.PositiveIntegerField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    order = models.OneToOneField(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="invoice"
    )
    status = FSMField(default=Status.INIT, choices=Status.choices, protected=True)
    currency = models.CharField(max_length=3)
    total_amount = models.BigIntegerField(validators=[MinValueValidator(0)])
    amount_refunded = models.BigIntegerField(default=0)
    payment_method = models.ForeignKey(
        PaymentMethod, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices"
    )
    # The dunning policy this invoice started with (DunningPolicy.snapshot()).
    dunning = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # When a failed invoice runs out of grace (final action / order canceled).
    grace_ends_at = models.DateTimeField(null=True, blank=True, db_index=True)
    final_action_taken_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The admin list: newest first, and by status.
            models.Index(fields=["-created_at", "-id"], name="invoice_newest"),
            models.Index(fields=["status", "-created_at", "-id"], name="invoice_status_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_amount__gte=0), name="invoice_total_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__gte=0, amount_refunded__lte=models.F("total_amount")),
                name="invoice_refund_within_total",
            ),
            models.UniqueConstraint(
                fields=["subscription", "period_index"], name="invoice_one_per_subscription_period"
            ),
        ]

    def __str__(self):
        return f"Invoice #{self.pk}"

    @property
    def purpose(self) -> str:
        if self.order_id:
            return self.Purpose.ORDER
        if self.subscription_id:
            return self.Purpose.SUBSCRIPTION
        return self.Purpose.ONE_OFF

    @property
    def refundable_amount(self) -> int:
        return self.total_amount - self.amount_refunded

    def is_zero(self) -> bool:
        return self.total_amount == 0

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.INIT, Status.PROCESS_FAILED], target=Status.PROCESSING)
    def process(self, *, by=None, description=None, payment_method=None):
        self.payment_method = payment_method
        self.failed_at = None
        self.grace_ends_at = None

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.INIT, target=Status.SETTLED, conditions=[is_zero])
    def settle_zero(self, *, by=None, description=None):
        self.settled_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PROCESSING, target=Status.SETTLED)
    def settle(self, *, by=None, description=None):
        self.settled_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PROCESSING, target=Status.PROCESS_FAILED)
    def fail(self, *, by=None, description=None, grace_ends_at=None):
        self.failed_at = timezone.now()
        self.grace_ends_at = grace_ends_at

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.SETTLED, target=Status.REFUNDING)
    def start_refund(self, *, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.REFUNDING, target=Status.REFUNDED)
    def finish_full_refund(self, *, by=None, description=None, amount=0):
        self.amount_refunded += amount

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.REFUNDING, target=Status.SETTLED)
    def finish_partial_refund(self, *, by=None, description=None, amount=0):
        self.amount_refunded += amount

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status, source=[Status.INIT, Status.PROCESSING, Status.PROCESS_FAILED], target=Status.CANCELED
    )
    def cancel(self, *, by=None, description=None):
        self.canceled_at = timezone.now()
        self.grace_ends_at = None


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1)
    unit_amount = models.BigIntegerField()
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.description


class Transaction(models.Model):
    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"

    class Status(models.TextChoices):
        INIT = "init", "Scheduled"
        RETRYING = "retrying", "Retrying"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    OPEN_STATUSES = [Status.INIT, Status.RETRYING]

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = FSMField(default=Status.INIT, choices=Status.choices, protected=True)
    amount = models.BigIntegerField(validators=[MinValueValidator(1)])
    currency = models.CharField(max_length=3)
    payment_method = models.ForeignKey(
        PaymentMethod, on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    # For a refund: the PaymentIntent it refunds.
    refund_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    reason = models.CharField(max_length=300, blank=True)
    # Declines counted for dunning (gateway trouble is not counted).
    failure_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Stripe refused the platform's own request (declines.PLATFORM): nothing is tried again
    # until staff act ("Retry now" in the admin).
    held_for_staff_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Gateway trouble in a row on the current attempt (for backoff).
    transport_failures = models.PositiveIntegerField(default=0)
    stripe_id = models.CharField(max_length=255, blank=True, db_index=True)
    last_category = models.CharField(max_length=20, choices=DeclineCategory.choices, blank=True)
    last_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Also the index for the admin's status filter (no single-column one).
            models.Index(fields=["status", "next_attempt_at"], name="txn_due"),
            models.Index(fields=["-created_at", "-id"], name="txn_newest"),
            models.Index(
                fields=["last_category", "-created_at", "-id"],
                condition=~models.Q(last_category=""),
                name="txn_declined_newest",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="txn_amount_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.INIT, target=Status.DONE)
    def succeed_first_time(self, *, by=None, description=None, stripe_id=""):
        self._done(stripe_id)

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.RETRYING, target=Status.DONE)
    def succeed(self, *, by=None, description=None, stripe_id=""):
        self._done(stripe_id)

    def _done(self, stripe_id):
        self.done_at = timezone.now()
        self.stripe_id = stripe_id or self.stripe_id
        self.last_category = ""
        self.last_message = ""

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.INIT, Status.RETRYING], target=Status.RETRYING)
    def retry_later(self, *, by=None, description=None, next_attempt_at=None):
        self.failure_count += 1
        self.next_attempt_at = next_attempt_at

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.INIT, Status.RETRYING], target=Status.FAILED)
    def fail(self, *, by=None, description=None, counted=True):
        if counted:
            self.failure_count += 1
        self.done_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.INIT, Status.RETRYING], target=Status.CANCELED)
    def cancel(self, *, by=None, description=None):
        self.done_at = timezone.now()
        self.reason = (description or self.reason)[:300]


class Attempt(models.Model):
    """One gateway call for a transaction. The row and its idempotency key are committed
    before the call; until the answer is recorded its outcome is `unknown`, and nothing
    starts a new charge for the invoice while it is."""

    class Outcome(models.TextChoices):
        UNKNOWN = "unknown", "Outcome unknown"
        SUCCEEDED = "succeeded", "Succeeded"
        DECLINED = "declined", "Declined"
        ERROR = "error", "Rejected by the gateway"

    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=100, unique=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.UNKNOWN, db_index=True)
    # Calls made with this key (more than one when the gateway did not answer properly).
    calls = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    stripe_id = models.CharField(max_length=255, blank=True)
    # When the bank wants the customer to confirm the payment (3-D Secure), the
    # PaymentIntent's client secret, kept from the charge's answer so the card page can hand
    # it to Stripe.js without asking Stripe each time it is shown. It lets only that payment
    # be confirmed, by the customer's bank; it is never shown in the admin.
    client_secret = models.CharField(max_length=255, blank=True)
    # The raw codes, as the gateway sent them.
    error_type = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=100, blank=True)
    decline_code = models.CharField(max_length=100, blank=True)
    advice_code = models.CharField(max_length=100, blank=True)
    network_advice_code = models.CharField(max_length=20, blank=True)
    network_decline_code = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)
    # Our reading of them (billing.declines).
    category = models.CharField(max_length=20, choices=DeclineCategory.choices, blank=True)
    decision = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["transaction", "number"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "number"], name="attempt_number_unique"),
        ]

    def __str__(self):
        return f"Attempt {self.number} of {self.transaction}"


class Dispute(models.Model):
    """A dispute (chargeback) the customer's bank opened on a payment, as Stripe reports it
    (`charge.dispute.*` webhooks, re-read from Stripe). Its status mirrors Stripe's."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    stripe_id = models.CharField(max_length=255, unique=True)
    payment_intent = models.CharField(max_length=255, blank=True)
    amount = models.BigIntegerField(help_text="Disputed, in the currency's minor unit.")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=100, blank=True)
    stripe_status = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    fee_amount = models.BigIntegerField(default=0, help_text="Stripe's dispute fee, in minor units.")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]

    def __str__(self):
        return f"Dispute {self.stripe_id} on {self.invoice}"


class ProcessingLease(models.Model):
    """One row per loop that must not run twice at once (process_transactions), on
    SQLite only: a run takes the lease with a conditional UPDATE, and it expires on its
    own if a worker dies holding it. PostgreSQL uses a session advisory lock instead,
    which dies with its holder at once (billing.single_runner)."""

    name = models.CharField(max_length=50, primary_key=True)
    held_until = models.DateTimeField(default=timezone.now)
    holder = models.CharField(max_length=100, blank=True)

    def __str__(self):
        return f"{self.name} lease"


class Receipt(models.Model):
    """What the customer is given when money moves: a payment received, or a refund sent.
    Numbered in one gapless sequence for the whole platform (ReceiptSequence), in the order
    they were issued, as bookkeeping expects of receipts."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment receipt"
        REFUND = "refund", "Refund receipt"

    number = models.PositiveIntegerField(unique=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="receipts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.BigIntegerField(help_text="In the currency's minor unit.")
    currency = models.CharField(max_length=3)
    # The card it was paid with or refunded to, as the customer saw it ("Visa •••• 4242").
    card = models.CharField(max_length=100, blank=True)
    reference = models.CharField(
        max_length=255, blank=True, help_text="Stripe's id of the payment or refund."
    )
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "kind", "reference"], name="receipt_once_per_payment_or_refund"
            ),
        ]

    def __str__(self):
        return f"Receipt {self.display_number}"

    @property
    def display_number(self) -> str:
        return f"{self.number:06d}"


class ReceiptSequence(models.Model):
    """The last receipt number issued. One row, locked while a receipt is numbered, so that
    numbers are gapless and in order on every database (a sequence would leave gaps)."""

    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"Receipts up to {self.last_number:06d}"


class CardSetup(models.Model):
    """A Stripe SetupIntent the card page of an invoice started, when its customer began
    typing a card. It is reused for every attempt to confirm a card (Stripe lets a
    declined SetupIntent be confirmed again) until a card it saved is posted back, or
    Stripe no longer lets it be confirmed; only then is another one made."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="card_setups")
    stripe_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.stripe_id} for {self.invoice}"


class CardPageStripeCall(models.Model):
    """One call to Stripe made because someone used the card page of an invoice, kept for
    a day: counted per invoice over the last minute, it limits what anyone holding a card
    link can make the platform ask of Stripe (they share the platform's pace with the
    charges). Counted in the database, so every web process shares the limit."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    made_at = models.DateTimeField(default=timezone.now)
    what = models.CharField(max_length=40)

    class Meta:
        indexes = [models.Index(fields=["invoice", "made_at"], name="billing_cardpage_calls_idx")]

    def __str__(self):
        return f"{self.what} for invoice #{self.invoice_id} at {datetime_text(self.made_at)}"
