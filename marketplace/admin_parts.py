"""
Pieces the apps' admins share.

Read-only inlines, for rows only services write. Admin actions that ask for something (a reason, a reference, an amount) on an
intermediate page before they act on the selected rows. Orders, billing and payouts use
the same page (`templates/admin/action_form.html`; each app's template only says what the
rows are and what happens) and, where they report row by row, the same action.
"""

from django.contrib import admin, messages
from django.contrib.contenttypes.admin import GenericTabularInline
from django.template.response import TemplateResponse
from django_fsm_log.models import StateLog

from .exceptions import ApplicationError
from .platform_time import platform_localtime


def action_form_page(
    modeladmin, request, queryset, *, template: str, label: str, **context
) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "title": label,
            "label": label,
            "objects": queryset,
            "action_name": request.POST["action"],
            "opts": modeladmin.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


def text_action(label: str, *, template: str, missing_text: str | None, **context):
    """Decorate `apply(obj, request, text)` into an admin action: the intermediate page
    asks for the text (required unless `missing_text` is None), then `apply` runs for each
    selected row, each refusal reported on its own."""

    def decorator(apply):
        def action(modeladmin, request, queryset):
            if "apply" not in request.POST:
                return action_form_page(
                    modeladmin,
                    request,
                    queryset,
                    template=template,
                    label=label,
                    text_required=missing_text is not None,
                    **context,
                )
            text = request.POST.get("reason", "").strip()
            if missing_text and not text:
                modeladmin.message_user(request, missing_text, messages.ERROR)
                return None
            for obj in queryset:
                try:
                    apply(obj, request, text)
                    modeladmin.message_user(request, f"{label}: {obj} done.", messages.SUCCESS)
                except (ApplicationError, ValueError) as exc:
                    modeladmin.message_user(request, f"{obj}: {exc}", messages.WARNING)
            return None

        action.__name__ = apply.__name__
        action.short_description = label
        return action

    return decorator


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page that only services write."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class UntitledReadOnlyInline(ReadOnlyInline):
    """A read-only inline whose rows carry no title (their __str__): the columns say it."""

    template = "admin/edit_inline/tabular_untitled.html"


def when(moment) -> str:
    """An instant for staff: the platform's wall-clock time to the minute, with its zone."""
    if moment is None:
        return "–"
    return f"{platform_localtime(moment):%-d %b %Y, %H:%M %Z}"


class StateHistoryInline(GenericTabularInline):
    """A record's status changes in people's words: when (platform timezone, to the
    minute), who, from which status to which (their labels, not the stored names), and
    the note given. django-fsm-log's own inline shows the stored names and microsecond
    timestamps."""

    model = StateLog
    extra = 0
    can_delete = False
    fields = ["changed", "who", "change", "note"]
    readonly_fields = fields
    template = "admin/edit_inline/tabular_untitled.html"
    verbose_name = "status change"
    verbose_name_plural = "status history"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("by", "content_type").order_by("timestamp", "pk")

    @admin.display(description="when")
    def changed(self, log):
        return when(log.timestamp)

    @admin.display(description="by")
    def who(self, log):
        return str(log.by) if log.by else "System"

    @admin.display(description="change")
    def change(self, log):
        labels = status_labels(log.content_type.model_class())
        return f"{labels.get(log.source_state, log.source_state)} → {labels.get(log.state, log.state)}"

    @admin.display(description="note")
    def note(self, log):
        return log.description or "–"


def status_labels(model) -> dict[str, str]:
    """A model's status values and what people call them."""
    return {str(value): str(label) for value, label in model._meta.get_field("status").choices}


class NoSaveButtons:
    """For records only services change (all fields read-only, the admin's actions act):
    no Save or Delete buttons on the change page, which would suggest otherwise."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        hidden = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, {**hidden, **(extra_context or {})})
