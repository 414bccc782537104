from django.contrib import admin
from django.db.models import Q

from marketplace.admin_parts import NoSaveButtons, fixed_choices_filter

from .models import WebhookEvent


def _handled_types():
    """The event types some app handles; a prefix ("charge.dispute.*") is one choice."""
    from .events import table

    return [(event_type, event_type) for event_type in sorted(table.registrations())]


def _type_matches(value: str) -> Q:
    return Q(type__startswith=value[:-1]) if value.endswith(".*") else Q(type=value)


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("processed", "Processed"), ("failed", "Failed"), ("waiting", "Not processed yet")]

    def queryset(self, request, queryset):
        if self.value() == "processed":
            return queryset.filter(processed_at__isnull=False)
        if self.value() == "failed":
            return queryset.filter(processed_at__isnull=True, failed_at__isnull=False)
        if self.value() == "waiting":
            return queryset.filter(processed_at__isnull=True, failed_at__isnull=True)
        return queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(NoSaveButtons, admin.ModelAdmin):
    """Stripe's events as received, read-only: they come only from Stripe (the signed
    webhook), so there is no Add page and no Save. A failed one was signed by Stripe's
    secret but could not be applied; its reason says why (a malformed body, an object
    Stripe does not know)."""

    list_display = ["stripe_id", "type", "received_at", "outcome", "result"]
    list_filter = [OutcomeFilter, fixed_choices_filter("type", "type", _handled_types, match=_type_matches)]
    search_fields = ["stripe_id"]
    readonly_fields = [
        "stripe_id",
        "type",
        "payload",
        "received_at",
        "processed_at",
        "result",
        "failed_at",
        "failure_reason",
    ]

    @admin.display(description="outcome")
    def outcome(self, event):
        if event.processed_at:
            return "processed"
        if event.failed_at:
            return f"failed: {event.failure_reason}"
        return "not processed yet"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
