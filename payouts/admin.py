from collections import defaultdict

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import Exists, OuterRef, Sum
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse
from django.utils import timezone

from finance.models import PayoutCycleSettings
from marketplace.admin_parts import (
    FixedChoicesCurrencyFilter,
    NoSaveButtons,
    ReadOnlyInline,
    ScaledChangeList,
    StateHistoryInline,
    UntitledReadOnlyInline,
    fixed_choices_filter,
    rows_refused,
    text_action,
)
from marketplace.exceptions import ApplicationError
from marketplace.money import format_money
from marketplace.platform_time import date_text

from . import (
    admin_settings,  # noqa: F401  (registers finance's Payout Cycle Settings page)
    services,
)
from .models import (
    Earning,
    Entry,
    Journal,
    LedgerAccount,
    Payout,
    PayoutAccount,
    PayoutDetailsChange,
    PayoutRun,
    PayoutRunChunk,
    SellerMoneyWaiting,
)
from .payability import Block, account_payability, sellers_payability
from .selectors import first_open_payout_date

# How a payout is sent, in the words of the payout settings page.
PROVIDERS = [
    (PayoutCycleSettings.Provider.MANUAL, "Bank transfer"),
    (PayoutCycleSettings.Provider.STRIPE_CONNECT, "Stripe Connect"),
]


class ReadOnlyAdmin(ScaledChangeList):
    """The ledger and the runs are written by services only; the admin reads them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _text_action(label, *, field_label, explain, required, action):
    """Every selected payout is checked for `action` first; if one is refused, none changes.
    Only staff who may change payouts see or run it (view-only staff cannot)."""
    decorate = text_action(
        label,
        template="admin/payouts/payout/action_form.html",
        missing_text=f"Give the {field_label.lower()}." if required else None,
        check=lambda payout, request, text: services.payout_action_check(payout=payout, action=action),
        field_label=field_label,
        explain=explain,
    )

    def decorator(apply):
        made = decorate(apply)
        made.allowed_permissions = ("change",)
        return made

    return decorator


def _bank_file(modeladmin, request, queryset, *, again: bool):
    action = "export_csv_again" if again else "export_csv"
    # Every selected payout first: with one refused, no file is made and none is handed
    # to the bank.
    if rows_refused(
        modeladmin,
        request,
        queryset.order_by("pk"),
        lambda payout: services.payout_action_check(payout=payout, action=action),
    ):
        return None
    export = services.payouts_export_csv(
        payout_ids=list(queryset.values_list("pk", flat=True)), by=request.user, again=again
    )
    # Shown on the next page the admin opens (the answer itself is the file).
    if again:
        done = (
            f"Exported {_plural(export.exported, 'payout')} again, each to the account its first bank "
            "file named: make sure the bank pays each only once."
        )
    else:
        done = (
            f"Exported {_plural(export.exported, 'payout')} for the bank; they are marked sent to the bank."
        )
    modeladmin.message_user(request, done, messages.SUCCESS if export.exported else messages.WARNING)
    for why in export.left_out:
        modeladmin.message_user(request, why, messages.WARNING)
    response = HttpResponse(export.csv, content_type="text/csv")
    suffix = "-duplicate" if again else ""
    response["Content-Disposition"] = (
        f'attachment; filename="payouts-{timezone.now():%Y%m%d-%H%M}{suffix}.csv"'
    )
    return response


@admin.action(
    description="Export for the bank (CSV); marks scheduled payouts as sent to the bank",
    permissions=["export_bank_file"],
)
def export_csv(modeladmin, request, queryset):
    return _bank_file(modeladmin, request, queryset, again=False)


@admin.action(
    description="Export again for the bank (duplicate file, only if the bank never received the first)",
    permissions=["export_bank_file"],
)
def export_csv_again(modeladmin, request, queryset):
    return _bank_file(modeladmin, request, queryset, again=True)


@_text_action(
    "Mark paid",
    field_label="Bank reference (optional)",
    explain="The seller is emailed that the money is on its way.",
    required=False,
    action="mark_paid",
)
def mark_paid(payout, request, text):
    services.payout_mark_paid(payout_id=payout.pk, by=request.user, reference=text)


@_text_action(
    "Mark failed",
    field_label="Reason",
    explain=(
        "The money goes back to the seller's balance and out again on the next payout date; "
        "the seller is emailed the reason."
    ),
    required=True,
    action="mark_failed",
)
def mark_failed(payout, request, text):
    services.payout_mark_failed(payout_id=payout.pk, by=request.user, reason=text)


@_text_action(
    "Cancel",
    field_label="Reason",
    explain="Only scheduled payouts can be canceled; the money stays in the seller's balance.",
    required=True,
    action="cancel",
)
def cancel(payout, request, text):
    services.payout_cancel(payout_id=payout.pk, by=request.user, reason=text)


CHECK_LEVELS = {
    services.TransferCheck.Outcome.RECORDED: messages.SUCCESS,
    services.TransferCheck.Outcome.NOT_FOUND: messages.INFO,
    services.TransferCheck.Outcome.STILL_SENDING: messages.WARNING,
    services.TransferCheck.Outcome.NOTHING_TO_CHECK: messages.INFO,
    services.TransferCheck.Outcome.PAID_MORE_THAN_ONCE: messages.ERROR,
    services.TransferCheck.Outcome.FOUND_ON_CLOSED_PAYOUT: messages.ERROR,
}


@admin.action(
    description="Check with Stripe (find the transfer of a payout sent with no answer)",
    permissions=["change"],
)
def check_with_stripe(modeladmin, request, queryset):
    queryset = queryset.order_by("pk")
    if rows_refused(
        modeladmin,
        request,
        queryset,
        lambda payout: services.payout_action_check(payout=payout, action="check_with_stripe"),
    ):
        return
    for payout in queryset:
        try:
            check = services.payout_check_with_stripe(payout_id=payout.pk, by=request.user)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{payout}: {exc}", messages.WARNING)
        else:
            modeladmin.message_user(request, check.message, CHECK_LEVELS[check.outcome])


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class PayoutLinesFormSet(BaseInlineFormSet):
    """A payout's lines, found through the (seller, payout) index: every line of a payout
    is its seller's."""

    def __init__(self, *args, instance=None, queryset=None, **kwargs):
        if instance is not None and instance.seller_id:
            queryset = (self.model._default_manager if queryset is None else queryset).filter(
                seller_id=instance.seller_id
            )
        super().__init__(*args, instance=instance, queryset=queryset, **kwargs)


class EarningInline(UntitledReadOnlyInline):
    model = Earning
    formset = PayoutLinesFormSet
    fields = ["kind", "order", "seller_gets", "available_on", "description"]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="seller gets")
    def seller_gets(self, earning):
        return format_money(earning.amount, earning.currency)


@admin.register(Payout)
class PayoutAdmin(NoSaveButtons, ScaledChangeList):
    list_display = [
        "id",
        "payout_date",
        "seller",
        "money",
        "status",
        "provider",
        "provider_reference",
        "failure_reason",
    ]
    list_filter = [
        "status",
        fixed_choices_filter("provider", "provider", lambda: PROVIDERS),
        FixedChoicesCurrencyFilter,
        "payout_date",
    ]
    search_fields = ["=id", "seller__email", "=provider_reference"]
    search_help_text = "Payout number, the seller's email, or the transfer / bank reference."
    list_select_related = ["seller"]
    actions = [export_csv, export_csv_again, mark_paid, mark_failed, cancel, check_with_stripe]
    readonly_fields = [
        "seller",
        "currency",
        "payout_date",
        "money",
        "status",
        "run",
        "provider",
        "idempotency_key",
        "transfer_group",
        "provider_reference",
        "failure_reason",
        "exported_at",
        "export_count",
        "paid_to",
        "transfer_sent_at",
        "transfer_checked_at",
        "transfer_problem",
        "created_at",
        "submitted_at",
        "paid_at",
        "failed_at",
    ]
    inlines = [EarningInline, StateHistoryInline]

    @admin.display(description="amount", ordering="amount")
    def money(self, payout):
        return format_money(payout.amount, payout.currency)

    @admin.display(description="bank file names")
    def paid_to(self, payout):
        if not payout.destination_account:
            return "-"
        return f"{payout.destination_holder_name} · {payout.destination_masked}"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_export_bank_file_permission(self, request):
        return self.has_change_permission(request) and request.user.has_perm("payouts.export_bank_file")


class PayoutRunChunkInline(ReadOnlyInline):
    model = PayoutRunChunk
    fields = ["after_seller_id", "last_seller_id", "done_at", "done_by", "payouts_created", "lines_paid"]
    readonly_fields = fields
    verbose_name_plural = "chunks of sellers (built by any process; counts add up when the run closes)"


@admin.register(PayoutRun)
class PayoutRunAdmin(ReadOnlyAdmin):
    inlines = [PayoutRunChunkInline]
    list_display = [
        "payout_date",
        "status",
        "paused",
        "payouts_created",
        "lines_paid",
        "below_minimum",
        "on_hold",
        "not_positive",
        "started_at",
        "finished_at",
    ]


@admin.register(Earning)
class EarningAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "order", "seller", "money", "fee", "available_on", "payout", "reversed_at"]
    fields = [
        "kind",
        "order",
        "seller",
        "gross",
        "fee",
        "fee_rate",
        "money",
        "delay_days",
        "completed_at",
        "available_on",
        "description",
        "payout",
        "reversed_at",
        "reference",
        "created_at",
    ]
    readonly_fields = fields
    list_filter = ["kind", FixedChoicesCurrencyFilter, ("payout", admin.EmptyFieldListFilter), "available_on"]
    search_fields = ["=order__id", "seller__email"]
    list_select_related = ["seller", "order", "payout"]
    # Newest lines first, through the primary key: no index on the date to keep up to date.
    ordering = ["-id"]

    @admin.display(description="seller gets", ordering="amount")
    def money(self, e):
        return format_money(e.amount, e.currency)

    @admin.display(description="fee")
    def fee(self, e):
        return format_money(e.fee_amount, e.currency)

    @admin.display(description="buyer paid")
    def gross(self, e):
        return format_money(e.gross_amount, e.currency)

    @admin.display(description="fee rate")
    def fee_rate(self, e):
        return f"{e.fee_bps // 100}.{e.fee_bps % 100:02d}%"


class PayoutDetailsChangeInline(ReadOnlyInline):
    model = PayoutDetailsChange
    fields = ["changed_at", "changed_by", "description", "cooling_off_through"]
    readonly_fields = fields
    verbose_name_plural = "changes of where the money goes"


class PayoutAccountChangeList(ChangeList):
    """Whether each listed seller can be paid, decided for the page at once: the settings
    and the next payout date are read once, not once per row."""

    def get_results(self, request):
        super().get_results(request)
        config = PayoutCycleSettings.load()
        on = first_open_payout_date(config, config.today())
        for account in self.result_list:
            account.payability_listed = account_payability(account, payout_date=on, config=config)


@admin.register(PayoutAccount)
class PayoutAccountAdmin(admin.ModelAdmin):
    """Sellers enter their own details (with their password, a cooling-off period and an
    email); staff read them, masked, and may hold a seller's payouts."""

    list_display = ["seller", "provider", "can_be_paid", "destination", "on_hold", "updated_at"]
    list_filter = ["provider", "on_hold", "stripe_payouts_enabled"]
    search_fields = ["seller__email", "stripe_account_id", "holder_name"]
    list_select_related = ["seller"]
    fields = [
        "seller",
        "provider",
        "can_be_paid",
        "destination",
        "stripe_account_id",
        "stripe_payouts_enabled",
        "stripe_details_submitted",
        "stripe_requirements_due",
        "stripe_disabled_reason",
        "stripe_checked_at",
        "cooling_off_through",
        "details_changed_at",
        "on_hold",
        "hold_reason",
    ]
    readonly_fields = [f for f in fields if f not in ("on_hold", "hold_reason")]
    inlines = [PayoutDetailsChangeInline]

    def get_changelist(self, request, **kwargs):
        return PayoutAccountChangeList

    @admin.display(description="can be paid on the next payout date")
    def can_be_paid(self, account):
        decision = getattr(account, "payability_listed", None)
        if decision is None:  # the change page: one account
            config = PayoutCycleSettings.load()
            decision = account_payability(
                account, payout_date=first_open_payout_date(config, config.today()), config=config
            )
        return "Yes" if decision.payable else f"No: {decision.block_label}"

    @admin.display(description="pays into")
    def destination(self, account):
        if account.provider == PayoutCycleSettings.Provider.STRIPE_CONNECT:
            return account.stripe_account_id or "-"
        return (
            f"{account.holder_name} · {account.bank_details_masked}" if account.bank_details_masked else "-"
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WaitingReasonFilter(admin.SimpleListFilter):
    title = "why"
    parameter_name = "why"

    def lookups(self, request, model_admin):
        # A seller's own decision never names a payout, so never "paid another way".
        reasons = [choice for choice in Block.choices if choice[0] != Block.PROVIDER_CHANGED]
        return [("payable", "Can be paid on the next payout date"), *reasons]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        config = PayoutCycleSettings.load()
        on = first_open_payout_date(config, config.today())
        decisions = sellers_payability(
            seller_ids=queryset.values_list("pk", flat=True), payout_date=on, config=config
        )
        wanted = "" if self.value() == "payable" else self.value()
        return queryset.filter(pk__in=[pk for pk, d in decisions.items() if d.block == wanted])


@admin.register(SellerMoneyWaiting)
class SellerMoneyWaitingAdmin(ReadOnlyAdmin):
    """Sellers with money available and not paid out, with what holds it (the same
    decision the payout runs apply, `payouts.payability`)."""

    list_display = ["email", "money_waiting", "why", "paid_by"]
    list_filter = [WaitingReasonFilter]
    search_fields = ["email"]
    search_help_text = "The seller's email, exactly."
    list_per_page = 50
    list_display_links = None

    def get_queryset(self, request):
        today = PayoutCycleSettings.load().today()
        waiting = Earning.objects.filter(
            seller_id=OuterRef("pk"), payout__isnull=True, reversed_at__isnull=True, available_on__lte=today
        )
        return super().get_queryset(request).filter(Exists(waiting)).order_by("email")

    def get_changelist_instance(self, request):
        """Work out the page's amounts and reasons in two queries, not two per row."""
        changelist = super().get_changelist_instance(request)
        rows = changelist.result_list
        config = PayoutCycleSettings.load()
        today = config.today()
        ids = [seller.pk for seller in rows]
        totals = defaultdict(list)
        owes = defaultdict(list)
        for row in (
            Earning.objects.filter(
                seller_id__in=ids, payout__isnull=True, reversed_at__isnull=True, available_on__lte=today
            )
            .values("seller_id", "currency")
            .annotate(total=Sum("amount"))
            .order_by("currency")
        ):
            if row["total"] < 0:
                # A refund after payout took back more than has come in since: the seller
                # owes it; no money waits for them in that currency.
                owes[row["seller_id"]].append(format_money(-row["total"], row["currency"]))
                totals[row["seller_id"]].append(f"Owes the platform {owes[row['seller_id']][-1]}")
            else:
                totals[row["seller_id"]].append(format_money(row["total"], row["currency"]))
        decisions = sellers_payability(
            seller_ids=ids, payout_date=first_open_payout_date(config, today), config=config
        )
        for seller in rows:
            seller.waiting_text = ", ".join(totals[seller.pk])
            seller.owes = owes[seller.pk]
            seller.owes_only = len(owes[seller.pk]) == len(totals[seller.pk])
            seller.decision = decisions[seller.pk]
        return changelist

    @admin.display(description="available, not paid (or owed)")
    def money_waiting(self, seller):
        return getattr(seller, "waiting_text", "")

    @admin.display(description="why")
    def why(self, seller):
        decision = getattr(seller, "decision", None)
        owes = getattr(seller, "owes", [])
        owed = (
            f"Owes the platform {', '.join(owes)} (a refund after payout): netted off from their next "
            "earnings, nothing paid in that currency until the balance is above zero"
            if owes
            else ""
        )
        if owed and getattr(seller, "owes_only", False):
            return owed
        if decision is None or decision.payable:
            waiting = "Nothing holds it: paid on the next payout date (if over the minimum)"
            return f"{waiting}. {owed}" if owed else waiting
        detail = ""
        if decision.block == Block.COOLING_OFF:
            detail = f" (through {date_text(decision.cooling_off_through)})"
        elif decision.block == Block.STRIPE_NOT_READY and decision.stripe_requirements_due:
            detail = f" (Stripe needs: {', '.join(decision.stripe_requirements_due)})"
        elif decision.block == Block.ON_HOLD and decision.hold_reason:
            detail = f" ({decision.hold_reason})"
        return decision.block_label + detail

    @admin.display(description="paid by")
    def paid_by(self, seller):
        decision = getattr(seller, "decision", None)
        return (
            PayoutCycleSettings.Provider(decision.provider).label.split(" (")[0]
            if decision and decision.provider
            else "-"
        )


class EntryInline(UntitledReadOnlyInline):
    model = Entry
    fields = ["account", "money"]
    readonly_fields = fields

    @admin.display(description="amount")
    def money(self, entry):
        return format_money(entry.amount, entry.account.currency)


@admin.register(Journal)
class JournalAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "description", "earning", "payout", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["earning", "payout"]
    inlines = [EntryInline]


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["key", "kind", "currency", "seller", "shown_balance"]
    fields = ["key", "kind", "seller", "shown_balance"]
    readonly_fields = fields
    list_filter = ["kind", FixedChoicesCurrencyFilter]
    search_fields = ["=key", "seller__email"]
    list_select_related = ["seller"]

    @admin.display(description="balance", ordering="balance")
    def shown_balance(self, account):
        return format_money(account.balance, account.currency)
