"""
Seller money, made exact from the payout half of the order-completion source document
(DESIGN.md sections 3.3 and 4).

- An `Earning` is one line of what the platform owes a seller: a sale (gross minus fee,
  available N days after completion) or a clawback (a refund after the sale was paid out,
  a negative line the next payouts net off). A line is paid when a payout takes it.
- A `Payout` is one transfer per seller, currency and payout date.
- The ledger (`LedgerAccount`, `Journal`, `Entry`) records every movement as a balanced
  journal that is never edited; corrections are new journals.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from accounts.models import User
from finance.models import PayoutCycleSettings
from marketplace.platform_time import datetime_text


class PayoutAccount(models.Model):
    """Where a seller's payouts go, as the seller set it up on their payout settings page
    (`payouts.payout_accounts`), and whether staff hold them. Whether the seller can be
    paid on a date is decided in one place, `payouts.payability`."""

    class Scheme(models.TextChoices):
        """The kind of bank details of a manual (bank transfer) payout account."""

        IBAN = "iban", "IBAN (Europe and the other countries that use IBANs)"
        US_ABA = "us_aba", "US bank account (routing number and account number)"

    seller = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_account"
    )
    provider = models.CharField(
        "paid by",
        max_length=20,
        blank=True,
        choices=PayoutCycleSettings.Provider.choices,
        help_text="How the seller chose to be paid; empty until they choose.",
    )
    # Stripe Connect: the connected account, and what Stripe last said about it (read back
    # after onboarding and on every `account.updated`).
    stripe_account_id = models.CharField(
        "Stripe connected account", max_length=255, blank=True, help_text="acct_… (Stripe Connect only)."
    )
    stripe_payouts_enabled = models.BooleanField("Stripe can pay out", default=False)
    stripe_details_submitted = models.BooleanField(default=False)
    stripe_requirements_due = models.JSONField(
        default=list, blank=True, help_text="Stripe's requirements.currently_due, as it last said."
    )
    stripe_disabled_reason = models.CharField(max_length=100, blank=True)
    stripe_checked_at = models.DateTimeField(null=True, blank=True)
    # Bank transfer (manual provider): validated when entered, stored compact (no spaces).
    bank_scheme = models.CharField(max_length=10, blank=True, choices=Scheme.choices)
    holder_name = models.CharField("account holder", max_length=140, blank=True)
    iban = models.CharField("IBAN", max_length=34, blank=True)
    bic = models.CharField("BIC", max_length=11, blank=True)
    routing_number = models.CharField("ABA routing number", max_length=9, blank=True)
    account_number = models.CharField(max_length=17, blank=True)
    # A change of where the money goes holds payouts through this day (platform timezone):
    # the seller is emailed and has time to notice a change they did not make.
    cooling_off_through = models.DateField(null=True, blank=True)
    details_changed_at = models.DateTimeField(null=True, blank=True)
    on_hold = models.BooleanField(default=False, help_text="Hold this seller's payouts; the balance waits.")
    hold_reason = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_account_id"],
                condition=~models.Q(stripe_account_id=""),
                name="payout_account_one_seller_per_stripe_account",
            ),
        ]

    def __str__(self):
        return f"Payout account of {self.seller}"

    @property
    def bank_details_complete(self) -> bool:
        if not self.holder_name:
            return False
        if self.bank_scheme == self.Scheme.IBAN:
            return bool(self.iban)
        if self.bank_scheme == self.Scheme.US_ABA:
            return bool(self.routing_number and self.account_number)
        return False

    @property
    def bank_details_masked(self) -> str:
        """What the seller and staff see: never the whole number."""
        if self.bank_scheme == self.Scheme.IBAN and self.iban:
            masked = f"{self.iban[:2]}•• •••• {self.iban[-4:]}"
            return f"{masked} · BIC {self.bic}" if self.bic else masked
        if self.bank_scheme == self.Scheme.US_ABA and self.account_number:
            return f"Routing {self.routing_number} · account ••••{self.account_number[-4:]}"
        return ""


class PayoutDetailsChange(models.Model):
    """One change of where a seller's money goes, by whom and when; never edited. Numbers
    are kept masked."""

    account = models.ForeignKey(PayoutAccount, on_delete=models.PROTECT, related_name="changes")
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    description = models.CharField(max_length=300)
    cooling_off_through = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return self.description


class PayoutPasswordFailure(models.Model):
    """A wrong password typed on the seller's payout settings (changing where the money
    goes). Counted per seller for the form's own limit (`payouts.password_limit`),
    apart from the sign-in's: nothing typed is kept, only when."""

    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    failed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["seller", "failed_at"], name="payout_password_failures")]

    def __str__(self):
        return (
            f"Wrong payout settings password for seller #{self.seller_id} at {datetime_text(self.failed_at)}"
        )


class SellerMoneyWaiting(User):
    """Staff's view of sellers whose available money has not been paid, and why
    (Admin → Payouts → Sellers with money waiting). A proxy: no table of its own."""

    class Meta:
        proxy = True
        verbose_name = "seller with money waiting"
        verbose_name_plural = "sellers with money waiting"


class Earning(models.Model):
    class Kind(models.TextChoices):
        SALE = "sale", "Sale"
        CLAWBACK = "clawback", "Refund adjustment"
        DISPUTE_HOLD = "dispute_hold", "Held: the buyer's bank disputed the payment"
        DISPUTE_RELEASE = "dispute_release", "Released: the dispute was won"
        DISPUTE_FEE = "dispute_fee", "Stripe's fee for a lost dispute"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SALE)
    # Every index here is written again for each line a payout run pays (setting `payout`
    # cannot be a HOT update while `earning_unpaid` depends on it), so there are only three:
    # the key, one per order (which also keeps lines unique), and `earning_seller_payout`
    # (a seller's lines, and a payout's lines with its seller: look them up with both).
    # The partial `earning_unpaid` is not written for a paid line.
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="earnings", db_index=False
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings", db_index=False
    )
    currency = models.CharField(max_length=3)
    gross_amount = models.BigIntegerField(help_text="What the buyer paid, in minor units.")
    fee_amount = models.BigIntegerField(help_text="The platform's fee, computed once, rounded half up.")
    fee_bps = models.PositiveIntegerField()
    amount = models.BigIntegerField(
        help_text="What the seller is owed by this line (negative for a clawback)."
    )
    delay_days = models.PositiveSmallIntegerField(help_text="N, frozen when the order completed.")
    completed_at = models.DateTimeField()
    available_on = models.DateField(help_text="A day in the platform timezone.")
    description = models.CharField(max_length=400, blank=True)
    # No foreign-key constraint in the database (db_constraint=False): PostgreSQL checks
    # one per row, and a payout run sets this on millions of lines (on 3M lines the checks
    # were 28% of a run). Only the run sets it, to payouts it inserted in the same
    # transaction and joins on, which nobody else can see, let alone delete, before it
    # commits; the other side, deleting a payout that still holds lines, is refused by a
    # trigger (migration 0010) as the constraint would, and `ledger_check` reports any
    # line whose payout is missing.
    payout = models.ForeignKey(
        "Payout",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="earnings",
        db_index=False,
        db_constraint=False,
    )
    # A refund before payout reverses the sale: the line is never paid.
    reversed_at = models.DateTimeField(null=True, blank=True)
    # For a refund adjustment: the Stripe refund (or other reference) it answers, so the
    # same refund never takes money back twice.
    reference = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["available_on", "id"]
        constraints = [
            # One sale per order (a sale's reference is always empty) and one adjustment per
            # reference, in one index that also finds an order's lines.
            models.UniqueConstraint(
                fields=["order", "kind", "reference"], name="earning_one_line_per_order_kind_reference"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="sale") | models.Q(reference=""),
                name="earning_sale_has_no_reference",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["clawback", "dispute_hold", "dispute_fee"], amount__lte=0)
                | models.Q(kind__in=["sale", "dispute_release"], amount__gte=0),
                name="earning_sign_matches_kind",
            ),
        ]
        indexes = [
            # The payout run reads unpaid lines by seller range and date.
            models.Index(
                fields=["seller", "currency", "available_on"],
                condition=models.Q(payout__isnull=True, reversed_at__isnull=True),
                name="earning_unpaid",
            ),
            # A seller's lines (the admin's search by email), and a payout's: its lines
            # are all its seller's, so `filter(seller_id=payout.seller_id, payout=payout)`.
            models.Index(fields=["seller", "payout"], name="earning_seller_payout"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} of order #{self.order_id}"


class PayoutRun(models.Model):
    """One per payout date. Its sellers are split into chunks (`PayoutRunChunk`, planned
    once under a row lock as the cursor moves to the last seller); each chunk is one
    transaction that any process may take, so Celery workers, `run_payouts` and beat share
    a date's work and never repeat it."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    payout_date = models.DateField(unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    cursor_seller_id = models.BigIntegerField(default=0)
    paused = models.BooleanField(default=False, help_text="Payouts were paused: nothing was built.")
    payouts_created = models.PositiveIntegerField(default=0)
    lines_paid = models.PositiveIntegerField(default=0)
    below_minimum = models.PositiveIntegerField(default=0)
    on_hold = models.PositiveIntegerField(default=0)
    not_positive = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-payout_date"]

    def __str__(self):
        return f"Payout run of {self.payout_date}"


class PayoutRunChunk(models.Model):
    """The sellers with ids in (after_seller_id, last_seller_id] of one run: built in one
    transaction, by whichever process locks the row first (the others skip it), and marked
    done in that same transaction."""

    run = models.ForeignKey(PayoutRun, on_delete=models.CASCADE, related_name="chunks", db_index=False)
    after_seller_id = models.BigIntegerField()
    last_seller_id = models.BigIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.CharField(max_length=200, blank=True, help_text="The process that built it (host:pid).")
    payouts_created = models.PositiveIntegerField(default=0)
    lines_paid = models.PositiveIntegerField(default=0)
    below_minimum = models.PositiveIntegerField(default=0)
    on_hold = models.PositiveIntegerField(default=0)
    not_positive = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "after_seller_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "after_seller_id"], name="chunk_once_per_range")
        ]
        indexes = [
            models.Index(fields=["run"], condition=models.Q(done_at__isnull=True), name="chunk_pending"),
        ]

    def __str__(self):
        return f"Sellers {self.after_seller_id + 1}–{self.last_seller_id} of {self.run}"


class Payout(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        PROCESSING = "processing", "Processing"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    # The lines of a payout in these states are taken; failed and canceled give them back.
    LIVE_STATUSES = [Status.SCHEDULED, Status.PROCESSING, Status.PAID]

    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    currency = models.CharField(max_length=3)
    payout_date = models.DateField()
    amount = models.BigIntegerField()
    status = FSMField(default=Status.SCHEDULED, choices=Status.choices, protected=True, db_index=True)
    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="payouts")
    provider = models.CharField(max_length=20)
    idempotency_key = models.CharField(max_length=100, blank=True)
    transfer_group = models.CharField(max_length=100, blank=True)
    provider_reference = models.CharField(
        max_length=255, blank=True, help_text="The Stripe transfer id or the bank's reference."
    )
    failure_reason = models.CharField(max_length=500, blank=True)
    # Stripe Connect: a transfer sent with no transfer id back and no refusal may exist at
    # Stripe; until Stripe is checked (`payout_check_with_stripe`) the payout may not be
    # failed or canceled, or its money would be paid again under a new key.
    transfer_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the transfer was last sent to Stripe (before any answer)."
    )
    transfer_checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When Stripe was last checked and had no transfer for this payout."
    )
    transfer_problem = models.CharField(
        max_length=500,
        blank=True,
        help_text="Stripe refused the platform's own request: not resent until staff act.",
    )
    # Bank transfer: where the bank file sent the money, recorded when the payout is first
    # put in a bank file. A duplicate file (the bank lost the first) writes these, never
    # the seller's details of the day: a change made since then must not redirect money
    # the bank already has an instruction for.
    exported_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was first put in a bank file."
    )
    export_count = models.PositiveSmallIntegerField(
        default=0,
        help_text="How many bank files it was put in (more than one: duplicates asked for by staff).",
    )
    destination_scheme = models.CharField(max_length=10, blank=True, choices=PayoutAccount.Scheme.choices)
    destination_holder_name = models.CharField("paid to (account holder)", max_length=140, blank=True)
    destination_account = models.CharField("paid to (IBAN or account number)", max_length=34, blank=True)
    destination_bank_code = models.CharField("paid to (BIC or routing number)", max_length=11, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-payout_date", "-id"]
        # A bank file holds every chosen seller's full bank details: a right of its own,
        # on top of changing payouts (the export hands them to the bank).
        permissions = [("export_bank_file", "Can export payouts to a bank file (full bank details)")]
        indexes = [models.Index(fields=["-payout_date", "-id"], name="payout_newest")]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "currency", "payout_date"], name="payout_one_per_seller_currency_date"
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="payout_amount_not_negative"),
        ]

    def __str__(self):
        return f"Payout #{self.pk}"

    @property
    def destination_masked(self) -> str:
        """The bank account its bank file named, masked as the seller's details are."""
        us = self.destination_scheme == PayoutAccount.Scheme.US_ABA
        return PayoutAccount(
            bank_scheme=self.destination_scheme,
            iban="" if us else self.destination_account,
            bic="" if us else self.destination_bank_code,
            account_number=self.destination_account if us else "",
            routing_number=self.destination_bank_code if us else "",
        ).bank_details_masked

    # `custom` holds the past tense for "it cannot be {past}" (payouts.services).
    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.SCHEDULED, target=Status.PROCESSING, custom={"past": "submitted"})
    def submit(self, *, by=None, description=None):
        self.submitted_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PROCESSING, target=Status.PAID, custom={"past": "marked as paid"})
    def mark_paid(self, *, by=None, description=None, reference=""):
        self.paid_at = timezone.now()
        if reference:
            self.provider_reference = reference

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=[Status.PROCESSING, Status.PAID],
        target=Status.FAILED,
        custom={"past": "marked as failed"},
    )
    def fail(self, *, by=None, description=None):
        # A reversed Stripe transfer fails a payout that had been paid.
        self.failed_at = timezone.now()
        self.failure_reason = (description or "")[:500]

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.SCHEDULED, target=Status.CANCELED, custom={"past": "canceled"})
    def cancel(self, *, by=None, description=None):
        self.failed_at = timezone.now()
        self.failure_reason = (description or "")[:500]


class LedgerAccount(models.Model):
    """Amounts are signed credits: a positive balance is money the platform owes (a
    seller's balance, its own fees, payouts in transit); the money it holds for sellers
    (`platform_cash`) is an asset and so runs negative. Every journal sums to zero."""

    class Kind(models.TextChoices):
        SELLER_BALANCE = "seller_balance", "Seller balance"
        PLATFORM_CASH = "platform_cash", "Funds held for sellers"
        PLATFORM_FEES = "platform_fees", "Platform fees"
        PAYOUTS_IN_TRANSIT = "payouts_in_transit", "Payouts in transit"

    key = models.CharField(max_length=100, unique=True, help_text="kind:currency[:seller id]")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    balance = models.BigIntegerField(default=0, help_text="Cached: the sum of this account's entries.")

    def __str__(self):
        who = f" of {self.seller}" if self.seller_id else ""
        return f"{self.get_kind_display()}{who} ({self.currency})"


class Journal(models.Model):
    class Kind(models.TextChoices):
        EARNING = "earning", "Earning from a completed order"
        REFUND_REVERSAL = "refund_reversal", "Refund before payout: earning reversed"
        CLAWBACK = "clawback", "Refund after payout: clawed back"
        DISPUTE_HOLD = "dispute_hold", "Dispute opened: earning held"
        DISPUTE_RELEASE = "dispute_release", "Dispute won: earning released"
        DISPUTE_FEE = "dispute_fee", "Lost dispute: Stripe's fee charged to the seller"
        PAYOUT = "payout", "Payout built"
        PAYOUT_PAID = "payout_paid", "Payout sent"
        PAYOUT_RETURNED = "payout_returned", "Failed or canceled payout: funds returned"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=400, blank=True)
    earning = models.ForeignKey(Earning, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Posting twice is refused by the database, not just avoided by the code.
            models.UniqueConstraint(
                fields=["kind", "earning"],
                condition=models.Q(earning__isnull=False),
                name="journal_once_per_earning",
            ),
            models.UniqueConstraint(
                fields=["kind", "payout"],
                condition=models.Q(payout__isnull=False),
                name="journal_once_per_payout",
            ),
        ]
        indexes = [
            # The admin's kind filter: every kind but the (most common) earning journals.
            models.Index(
                fields=["kind", "-id"], condition=~models.Q(kind="earning"), name="journal_kind_newest"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} (#{self.pk})"


class Entry(models.Model):
    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="entries")
    # Indexed once, by `entry_account` below.
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount = models.BigIntegerField(help_text="Signed credit in minor units.")

    class Meta:
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["account"], name="entry_account")]

    def __str__(self):
        return f"{self.amount:+d} to {self.account}"
