from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from marketplace.admin_parts import (
    FixedChoicesCurrencyFilter,
    NoSaveButtons,
    ScaledChangeList,
    StateHistoryInline,
    UntitledReadOnlyInline,
    fixed_choices_filter,
    rows_refused,
    text_action,
    when,
)
from marketplace.exceptions import ApplicationError
from marketplace.money import amount_parse, currency_clean, currency_exponent, format_money

from . import services
from .links import receipt_url
from .models import (
    Attempt,
    Customer,
    Dispute,
    DunningPolicy,
    Invoice,
    InvoiceLine,
    PaymentMethod,
    Plan,
    Subscription,
    Transaction,
)
from .selectors import dunning_in_words, invoice_payments

# The values Stripe gives a card's `brand` (https://docs.stripe.com/api/payment_methods/object).
CARD_BRANDS = [
    (code, label)
    for code, label in [
        ("amex", "American Express"),
        ("cartes_bancaires", "Cartes Bancaires"),
        ("diners", "Diners Club"),
        ("discover", "Discover"),
        ("eftpos_au", "eftpos Australia"),
        ("interac", "Interac"),
        ("jcb", "JCB"),
        ("link", "Link"),
        ("mastercard", "Mastercard"),
        ("unionpay", "UnionPay"),
        ("visa", "Visa"),
        ("unknown", "Unknown"),
    ]
]
# A dispute's `reason` as Stripe sends it (https://docs.stripe.com/api/disputes/object).
DISPUTE_REASONS = [
    (code, code.replace("_", " ").capitalize())
    for code in [
        "bank_cannot_process",
        "check_returned",
        "credit_not_processed",
        "customer_initiated",
        "debit_not_authorized",
        "duplicate",
        "fraudulent",
        "general",
        "incorrect_account_details",
        "insufficient_funds",
        "noncompliant",
        "product_not_received",
        "product_unacceptable",
        "subscription_canceled",
        "unrecognized",
    ]
]


class InvoiceLineInline(UntitledReadOnlyInline):
    model = InvoiceLine
    fields = ["description", "quantity", "unit_price", "line_total"]
    readonly_fields = fields

    @admin.display(description="unit price")
    def unit_price(self, line):
        return format_money(line.unit_amount, line.invoice.currency)

    @admin.display(description="amount")
    def line_total(self, line):
        return format_money(line.amount, line.invoice.currency)


class AttemptInline(UntitledReadOnlyInline):
    model = Attempt
    fields = [
        "number",
        "outcome",
        "decision",
        "started",
        "calls",
        "http_status",
        "error_type",
        "code",
        "decline_code",
        "advice_code",
        "network_advice_code",
        "message",
        "stripe_id",
        "idempotency_key",
    ]
    readonly_fields = fields

    @admin.display(description="started")
    def started(self, attempt):
        return when(attempt.started_at)


def _parse_amount(text: str, currency: str) -> int | None:
    """'12.50' in USD -> 1250. None when empty (a full refund); ValueError, with the
    message for staff, when not money (`marketplace.money.amount_parse`, as the seller's
    refund form reads it)."""
    text = (text or "").strip()
    return amount_parse(text, currency) if text else None


def _form_action(label, *, check, needs_amount=False):
    """Asks for a reason (and an amount) on an intermediate page, checks every selected
    invoice with `check`, then calls `apply` on each (none when one was refused)."""
    return text_action(
        label,
        template="admin/billing/invoice/action_form.html",
        missing_text="Give a reason: it goes on the invoice's history.",
        check=check,
        needs_amount=needs_amount,
    )


def _refund_amount(invoice, request) -> int | None:
    return _parse_amount(request.POST.get("amount", ""), invoice.currency)


@_form_action(
    "Cancel the invoice",
    check=lambda invoice, request, reason: services.invoice_cancel_check(invoice=invoice),
)
def cancel_invoices(invoice, request, reason):
    services.invoice_cancel(invoice_id=invoice.pk, by=request.user, reason=reason)


@_form_action(
    "Refund (leave the amount empty for everything left)",
    needs_amount=True,
    check=lambda invoice, request, reason: services.invoice_refund_check(
        invoice=invoice, amount=_refund_amount(invoice, request)
    ),
)
def refund_invoices(invoice, request, reason):
    services.invoice_refund(
        invoice_id=invoice.pk, amount=_refund_amount(invoice, request), by=request.user, reason=reason
    )


@admin.action(description="Retry the charge now")
def retry_now(modeladmin, request, queryset):
    if rows_refused(
        modeladmin, request, queryset, lambda invoice: services.invoice_retry_now_check(invoice=invoice)
    ):
        return
    for invoice in queryset:
        try:
            services.invoice_retry_now(invoice_id=invoice.pk, by=request.user)
            modeladmin.message_user(request, f"{invoice}: charging now.", messages.SUCCESS)
        except ApplicationError as exc:
            modeladmin.message_user(request, str(exc), messages.WARNING)


class HeldChargesAlert:
    """Staff see, on the invoice and transaction lists, the charges Stripe refused because
    of the platform's own request (declines.PLATFORM): they wait for staff, not for the
    customer."""

    def changelist_view(self, request, extra_context=None):
        held = Transaction.objects.filter(
            held_for_staff_at__isnull=False, status__in=Transaction.OPEN_STATUSES
        )
        count = held.count()
        if count:
            messages.warning(
                request,
                format_html(
                    "{} waiting for staff: Stripe refused the platform's own request (see each one's last "
                    'message). Fix the cause, then use "Retry now" on the invoice. '
                    '<a href="{}?held_for_staff_at__isnull=False&status__in=init,retrying">Show them</a>',
                    f"{count} charge{'s' if count != 1 else ''}",
                    reverse("admin:billing_transaction_changelist"),
                ),
            )
        return super().changelist_view(request, extra_context)


@admin.register(Invoice)
class InvoiceAdmin(NoSaveButtons, HeldChargesAlert, ScaledChangeList):
    list_display = ["id", "status", "customer", "total", "refunded", "what", "created_at", "grace_ends_at"]
    list_filter = [
        "status",
        FixedChoicesCurrencyFilter,
        ("subscription", admin.EmptyFieldListFilter),
        ("order", admin.EmptyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=id", "customer__user__email", "=order__id"]
    search_help_text = "Invoice number, order number, or the customer's email."
    list_select_related = ["customer__user", "subscription__plan"]
    fields = [
        "status",
        "customer",
        "what",
        "total",
        "refunded",
        "payment_method",
        "payments",
        "receipts",
        "dunning_policy",
        "created_at",
        "settled_at",
        "failed_at",
        "grace_ends_at",
        "final_action_taken_at",
        "canceled_at",
    ]
    readonly_fields = fields
    inlines = [InvoiceLineInline, StateHistoryInline]
    actions = [retry_now, cancel_invoices, refund_invoices]

    @admin.display(description="total", ordering="total_amount")
    def total(self, invoice):
        return format_money(invoice.total_amount, invoice.currency)

    @admin.display(description="refunded")
    def refunded(self, invoice):
        return format_money(invoice.amount_refunded, invoice.currency) if invoice.amount_refunded else "–"

    @admin.display(description="for", ordering="total_amount")
    def what(self, invoice):
        if invoice.order_id:
            return f"Order #{invoice.order_id}"
        if invoice.subscription_id:
            return f"{invoice.subscription.plan}, period {invoice.period_index + 1}"
        return "One-off"

    @admin.display(description="payments and refunds")
    def payments(self, invoice):
        """One line per payment (or refund) as the customer's bank sees it, its gateway
        attempts beneath: a charge declined and later confirmed by the bank is one
        payment, not two."""
        lines = invoice_payments(invoice)
        if not lines:
            return "None yet."
        return format_html_join(
            "",
            '<div class="payment-line"><strong>{} of {}</strong>{} · {} · {}<ul>{}</ul></div>',
            (
                (
                    line.kind,
                    format_money(line.amount, line.currency),
                    f" on {line.card}" if line.card else "",
                    line.outcome,
                    format_html_join(
                        ", ",
                        '<a href="{}">transaction #{}</a>',
                        (
                            (reverse("admin:billing_transaction_change", args=[t.pk]), t.pk)
                            for t in line.transactions
                        ),
                    ),
                    format_html_join(
                        "",
                        "<li>Attempt {} at {}: {}</li>",
                        (
                            (a.number, when(a.started_at), a.decision or a.get_outcome_display())
                            for a in line.attempts
                        ),
                    )
                    or format_html("<li>{}</li>", "Recorded without a gateway attempt of its own"),
                )
                for line in lines
            ),
        )

    @admin.display(description="receipts")
    def receipts(self, invoice):
        rows = invoice.receipts.order_by("number")
        return (
            format_html_join(
                ", ",
                '<a href="{}">{} {}</a> ({})',
                (
                    (
                        receipt_url(r),
                        r.get_kind_display(),
                        r.display_number,
                        format_money(r.amount, r.currency),
                    )
                    for r in rows
                ),
            )
            or "None yet."
        )

    @admin.display(description="dunning")
    def dunning_policy(self, invoice):
        return dunning_in_words(invoice.dunning)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Transaction)
class TransactionAdmin(NoSaveButtons, HeldChargesAlert, ScaledChangeList):
    list_display = [
        "id",
        "kind",
        "status",
        "invoice",
        "amount_display",
        "failure_count",
        "next_attempt_at",
        "last_message",
    ]
    list_filter = ["status", "kind", "last_category", ("held_for_staff_at", admin.EmptyFieldListFilter)]
    search_fields = ["=id", "=invoice__id", "=stripe_id", "invoice__customer__user__email"]
    list_select_related = ["invoice"]
    fields = [
        "invoice",
        "kind",
        "status",
        "amount_display",
        "payment_method",
        "refund_of",
        "reason",
        "failure_count",
        "next_attempt_at",
        "held_for_staff_at",
        "transport_failures",
        "stripe_id",
        "last_category",
        "last_message",
        "created_at",
        "done_at",
    ]
    readonly_fields = fields
    inlines = [AttemptInline, StateHistoryInline]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, txn):
        return format_money(txn.amount, txn.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "retry_delays",
        "final_action",
        "grace_period_days",
        "ambiguous_retry_cap",
        "updated_at",
    ]
    fields = ["retry_delays", "final_action", "grace_period_days", "ambiguous_retry_cap"]

    def has_add_permission(self, request):
        return not DunningPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        from django.shortcuts import redirect

        policy = DunningPolicy.load()
        return redirect("admin:billing_dunningpolicy_change", policy.pk)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "plan", "status", "started_at", "next_invoice_at", "periods_invoiced"]
    list_filter = ["status", "plan"]
    search_fields = ["customer__user__email"]
    readonly_fields = ["status", "periods_invoiced", "next_invoice_at", "canceled_at", "cancel_reason"]
    inlines = [StateHistoryInline]
    actions = ["cancel_subscriptions"]

    @admin.action(description="Cancel (and cancel its open invoices)")
    def cancel_subscriptions(self, request, queryset):
        if rows_refused(
            self, request, queryset, lambda sub: services.subscription_cancel_check(subscription=sub)
        ):
            return
        for sub in queryset:
            try:
                services.subscription_cancel(
                    subscription_id=sub.pk, by=request.user, reason=f"By {request.user.email}"
                )
                self.message_user(request, f"{sub} canceled.", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"{sub}: {exc}", messages.WARNING)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.next_invoice_at = obj.started_at
        super().save_model(request, obj, form, change)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["customer", "plan", "started_at"] if obj else [])


class PlanForm(forms.ModelForm):
    """The price typed in the plan's currency ("29.00"), stored exactly in minor units."""

    price = forms.CharField(help_text="In the plan's currency, e.g. 29.00 (USD) or 3000 (JPY).")

    class Meta:
        model = Plan
        fields = ["name", "currency", "price", "interval_unit", "interval_count", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            exponent = currency_exponent(self.instance.currency)
            self.initial["price"] = f"{Decimal(self.instance.amount).scaleb(-exponent):.{exponent}f}"

    def clean_currency(self):
        try:
            return currency_clean(self.cleaned_data["currency"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        cleaned = super().clean()
        if "currency" in cleaned and "price" in cleaned:
            try:
                self.instance.amount = _parse_amount(cleaned["price"], cleaned["currency"]) or 0
            except ValueError as exc:
                self.add_error("price", str(exc))
        return cleaned


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanForm
    list_display = ["name", "price", "interval_unit", "interval_count", "is_active"]

    @admin.display(description="price")
    def price(self, plan):
        return format_money(plan.amount, plan.currency)


@admin.register(Customer)
class CustomerAdmin(NoSaveButtons, admin.ModelAdmin):
    list_display = ["user", "stripe_customer_id", "default_payment_method", "created_at"]
    search_fields = ["user__email", "stripe_customer_id"]
    readonly_fields = ["user", "stripe_customer_id", "default_payment_method", "created_at"]


@admin.register(PaymentMethod)
class PaymentMethodAdmin(NoSaveButtons, admin.ModelAdmin):
    list_display = ["__str__", "customer", "fingerprint", "unusable_since", "unusable_reason", "created_at"]
    list_filter = [
        ("unusable_since", admin.EmptyFieldListFilter),
        fixed_choices_filter("brand", "brand", lambda: CARD_BRANDS),
    ]
    search_fields = ["customer__user__email", "stripe_id", "fingerprint", "last4"]
    readonly_fields = [f.name for f in PaymentMethod._meta.fields]


@admin.register(Dispute)
class DisputeAdmin(NoSaveButtons, ScaledChangeList):
    """Disputes as Stripe reports them; what they did to the order and the seller's money
    is on the order's timeline and the seller's earnings."""

    list_display = [
        "stripe_id",
        "invoice",
        "amount_display",
        "reason",
        "status",
        "stripe_status",
        "opened_at",
        "closed_at",
    ]
    list_filter = ["status", fixed_choices_filter("reason", "reason", lambda: DISPUTE_REASONS)]
    search_fields = ["=stripe_id", "=payment_intent", "=invoice__id", "=invoice__order__id"]
    list_select_related = ["invoice"]
    fields = [
        "stripe_id",
        "invoice",
        "payment_intent",
        "amount_display",
        "fee",
        "reason",
        "status",
        "stripe_status",
        "opened_at",
        "closed_at",
    ]
    readonly_fields = fields

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, dispute):
        return format_money(dispute.amount, dispute.currency)

    @admin.display(description="Stripe's dispute fee")
    def fee(self, dispute):
        return format_money(dispute.fee_amount, dispute.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
