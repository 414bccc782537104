"""
Pieces the apps' admins share.

Read-only inlines, for rows only services write. Admin actions that ask for something (a reason, a reference, an amount) on an
intermediate page before they act on the selected rows. Orders, billing and payouts use
the same page (`templates/admin/action_form.html`; each app's template only says what the
rows are and what happens) and, where they report row by row, the same action.
"""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from .exceptions import ApplicationError


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


NOTHING_CHANGED = "Nothing was changed: fix or unselect the rows above and try again."


def rows_refused(modeladmin, request, queryset, check) -> bool:
    """Run `check(obj)` on every selected row before any is changed. Each row it refuses
    (ApplicationError or ValueError) is reported by name; True when any was refused, and
    then the action must change nothing."""
    refused = []
    for obj in queryset:
        try:
            check(obj)
        except (ApplicationError, ValueError) as exc:
            refused.append(f"{obj}: {exc}")
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)
    if refused:
        modeladmin.message_user(request, NOTHING_CHANGED, messages.ERROR)
    return bool(refused)


def text_action(label: str, *, template: str, missing_text: str | None, check=None, **context):
    """Decorate `apply(obj, request, text)` into an admin action: the intermediate page
    asks for the text (required unless `missing_text` is None). `check(obj, request, text)`,
    when given, runs on every selected row first, and if it refuses any, no row is
    changed; then `apply` runs for each row, each refusal (a row that changed meanwhile)
    reported on its own."""

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
            if check and rows_refused(modeladmin, request, queryset, lambda obj: check(obj, request, text)):
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
