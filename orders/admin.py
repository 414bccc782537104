from datetime import timedelta

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from marketplace.admin_parts import (
    FixedChoicesCurrencyFilter,
    NoSaveButtons,
    ScaledChangeList,
    UntitledReadOnlyInline,
    action_form_page,
    rows_refused,
    when,
)
from marketplace.exceptions import ApplicationError
from marketplace.money import format_money

from . import services
from .models import Order, OrderItem, OrderSettings
from .selectors import order_timeline
from .tracking import shipping_html


class WaitingLongerThanFilter(admin.SimpleListFilter):
    """Open orders that have not moved for more than N days."""

    title = "waiting longer than"
    parameter_name = "waiting_days"

    def lookups(self, request, model_admin):
        return [(str(days), f"{days} day" if days == 1 else f"{days} days") for days in (1, 3, 5, 7, 14, 30)]

    # Further back than any order can have waited; also keeps the date arithmetic in range.
    MAX_DAYS = 3650

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            days = int(self.value())
        except ValueError:
            days = -1
        if not 0 <= days <= self.MAX_DAYS:
            messages.error(
                request,
                f"“Waiting longer than” takes a number of days from 0 to {self.MAX_DAYS}, "
                f"not “{self.value()}”: no order is shown.",
            )
            return queryset.none()
        return queryset.filter(
            status__in=Order.OPEN_STATUSES, status_changed_at__lt=timezone.now() - timedelta(days=days)
        )


class NeedsStaffFilter(admin.SimpleListFilter):
    """Orders waiting for staff rather than for the buyer or the seller."""

    title = "needs staff"
    parameter_name = "needs_staff"
    UNSHIPPED_REFUND_REFUSED = "unshipped_refund_refused"

    def lookups(self, request, model_admin):
        return [(self.UNSHIPPED_REFUND_REFUSED, "Not shipped in time, refund refused by Stripe")]

    def queryset(self, request, queryset):
        if self.value() == self.UNSHIPPED_REFUND_REFUSED:
            return unshipped_refund_refused(queryset)
        return queryset


def unshipped_refund_refused(queryset):
    """Paid orders the Order Settings timeout could not cancel: Stripe refused the refund."""
    return queryset.filter(status=Order.Status.PAID, unshipped_cancel_refused_at__isnull=False)


class OrderItemInline(UntitledReadOnlyInline):
    model = OrderItem
    fields = ["title", "quantity", "unit_price", "line_total"]
    readonly_fields = fields

    @admin.display(description="unit price")
    def unit_price(self, item):
        return format_money(item.unit_amount, item.order.currency)

    @admin.display(description="amount")
    def line_total(self, item):
        return format_money(item.line_amount, item.order.currency)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _transition_action(
    service, label, *, transition=None, on_behalf_of=None, needs_reason=True, shipping=False
):
    """An admin action that takes one transition per selected order through `service`.
    Every selected order is checked first (`transition`: the name of the transition the
    service takes; otherwise the service's own `<service>_check`), before anything is
    asked: if any is refused, each refusal is reported and nothing is changed. Only then
    does it ask for the reason (and, to mark shipped, the carrier and tracking number) on
    an intermediate page, and check again with it. Each order is then its own
    transaction; one that changed meanwhile is reported, not raised."""

    def check(order, request, reason):
        if transition:
            services.order_transition_check(
                order=order, name=transition, by=request.user, on_behalf_of=on_behalf_of, reason=reason
            )
        else:
            getattr(services, f"{service.__name__}_check")(order=order)

    def action(modeladmin, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if "apply" not in request.POST:
            # What the orders alone decide (their status, who may act) is checked before a
            # reason is asked for; the reason itself is checked once given.
            if rows_refused(
                modeladmin, request, queryset, lambda order: check(order, request, reason or "-")
            ):
                return None
            if needs_reason or shipping:
                return action_form_page(
                    modeladmin,
                    request,
                    queryset,
                    template="admin/orders/order/transition_reason.html",
                    label=label,
                    text_required=needs_reason,
                    shipping=shipping,
                )
        if needs_reason and not reason:
            modeladmin.message_user(request, services.MSG_REASON_REQUIRED, messages.ERROR)
            return None
        if rows_refused(modeladmin, request, queryset, lambda order: check(order, request, reason)):
            return None
        orders = list(queryset)
        done, refused = 0, []
        for order in orders:
            kwargs = {"order_id": order.pk, "by": request.user}
            if needs_reason:
                kwargs["reason"] = reason
            if on_behalf_of:
                kwargs["on_behalf_of"] = on_behalf_of
            if shipping:
                kwargs["carrier"] = request.POST.get("carrier", "")
                kwargs["tracking_number"] = request.POST.get("tracking_number", "")
            try:
                service(**kwargs)
                done += 1
            except ApplicationError as exc:
                refused.append(f"#{order.pk}: {exc.message}")
        if done:
            modeladmin.message_user(request, f"{label}: done for {_plural(done, 'order')}.", messages.SUCCESS)
        for line in refused:
            modeladmin.message_user(request, line, messages.WARNING)
        return None

    action.__name__ = f"action_{service.__name__}_{on_behalf_of or 'admin'}"
    action.short_description = label
    return action


@admin.register(Order)
class OrderAdmin(NoSaveButtons, ScaledChangeList):
    list_display = ["id", "status", "buyer", "seller", "total", "created_at", "status_changed_at"]
    # A date range instead of date_hierarchy: its drill-down reads every row for the years.
    list_filter = [
        "status",
        NeedsStaffFilter,
        WaitingLongerThanFilter,
        FixedChoicesCurrencyFilter,
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=id", "buyer__email", "seller__email"]
    search_help_text = "Order number, or the buyer's or seller's email."
    list_select_related = ["buyer", "seller"]
    readonly_fields = [
        "status",
        "buyer",
        "seller",
        "total",
        "refunded",
        "shipping",
        "confirmation_round",
        "status_changed_at",
        "refund_reason",
        "created_at",
        "paid_at",
        "shipped_at",
        "completed_at",
        "refunded_at",
        "canceled_at",
        "unshipped_cancel_requested_at",
        "unshipped_cancel_refused_at",
        "reminders",
        "timeline",
    ]
    fieldsets = [
        (None, {"fields": ["status", "buyer", "seller", "total", "refunded"]}),
        ("Delivery", {"fields": ["shipping", "confirmation_round", "reminders"]}),
        (
            "Dates",
            {
                "fields": [
                    "created_at",
                    "status_changed_at",
                    "paid_at",
                    "shipped_at",
                    "completed_at",
                    "refunded_at",
                    "canceled_at",
                    "unshipped_cancel_requested_at",
                    "unshipped_cancel_refused_at",
                ]
            },
        ),
        ("Refund", {"fields": ["refund_reason"]}),
        ("Timeline", {"fields": ["timeline"]}),
    ]
    inlines = [OrderItemInline]
    actions = [
        _transition_action(
            services.order_mark_shipped,
            "Mark shipped, on behalf of the seller",
            transition="mark_shipped",
            on_behalf_of=services.Actor.SELLER,
            shipping=True,
        ),
        _transition_action(
            services.order_mark_delivered,
            "Mark delivered, on behalf of the seller",
            transition="mark_delivered",
            on_behalf_of=services.Actor.SELLER,
        ),
        _transition_action(
            services.order_confirm_received,
            "Confirm received (as platform staff)",
            transition="confirm_received",
        ),
        _transition_action(
            services.order_report_not_received,
            "Report not received, on behalf of the buyer",
            transition="report_not_received",
            on_behalf_of=services.Actor.BUYER,
        ),
        _transition_action(
            services.order_resolve_and_confirm_delivery,
            "Mark resolved & confirm delivery, on behalf of the seller",
            transition="resolve_and_confirm_delivery",
            on_behalf_of=services.Actor.SELLER,
        ),
        _transition_action(services.order_refund, "Refund (as platform staff)", transition="refund"),
        _transition_action(
            services.order_cancel, "Cancel unpaid order (as platform staff)", transition="cancel"
        ),
        _transition_action(
            services.order_confirmation_email_resend,
            "Resend the current confirmation email",
            needs_reason=False,
        ),
    ]

    def changelist_view(self, request, extra_context=None):
        # No COUNT over the table: at most 100 ids, through a partial index (orders 0005).
        refused = len(unshipped_refund_refused(Order.objects.all()).values_list("pk", flat=True)[:100])
        if refused:
            messages.warning(
                request,
                format_html(
                    "{} not shipped in time could not be canceled: Stripe refused the buyer's refund "
                    "(each order's timeline says why). They stay paid; the seller has been told. "
                    'Refund, or ask the seller to ship. <a href="?{}={}">Show them</a>',
                    _plural(refused, "order"),
                    NeedsStaffFilter.parameter_name,
                    NeedsStaffFilter.UNSHIPPED_REFUND_REFUSED,
                ),
            )
        return super().changelist_view(request, extra_context)

    @admin.display(description="total", ordering="total_amount")
    def total(self, order):
        return format_money(order.total_amount, order.currency)

    @admin.display(description="refunded")
    def refunded(self, order):
        return format_money(order.amount_refunded, order.currency) if order.amount_refunded else "–"

    @admin.display(description="shipping")
    def shipping(self, order):
        return shipping_html(order) or "–"

    @admin.display(description="reminders sent")
    def reminders(self, order):
        return (
            f"Buyer reminded in round {order.buyer_reminded_round or '–'}; "
            f"seller reminded in round {order.seller_reminded_round or '–'}; "
            f"reminded to ship: {when(order.ship_reminded_at) if order.ship_reminded_at else 'no'}"
        )

    @admin.display(description="timeline")
    def timeline(self, order):
        entries = order_timeline(order=order)
        if not entries:
            return "Nothing has happened to this order yet."
        return format_html(
            '<ol class="order-timeline">{}</ol>',
            format_html_join(
                "",
                "<li><strong>{}</strong><br><span>{} · {}</span>{}</li>",
                (
                    (
                        entry.title,
                        when(entry.at),
                        entry.who,
                        format_html("<br>{}", entry.note) if entry.note else "",
                    )
                    for entry in entries
                ),
            ),
        )

    def has_add_permission(self, request):
        return False  # orders are placed by buyers; billing connects them to invoices

    def has_delete_permission(self, request, obj=None):
        return False  # an order is history: refund or cancel it instead


@admin.register(OrderSettings)
class OrderSettingsAdmin(admin.ModelAdmin):
    """One record: the list page opens it directly."""

    fieldsets = [
        ("Reminders", {"fields": ["ship_reminder_days", "buyer_reminder_days", "seller_reminder_days"]}),
        ("Orders never shipped", {"fields": ["unshipped_cancel_days"]}),
        ("Automatic completion", {"fields": ["auto_confirm_days"]}),
        ("Email links", {"fields": ["link_lifetime_days"]}),
    ]

    def changelist_view(self, request, extra_context=None):
        return redirect(reverse("admin:orders_ordersettings_change", args=[OrderSettings.load().pk]))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
