"""Ops' view of the outbox. Emails are django-post-office's own admin (Post Office >
Emails: sent, failed, requeue); deferred task calls are listed here. Also the daily
Stripe reconciliation reports, read-only."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .admin_parts import fixed_choices_filter
from .models import OutboxTask, ReconciliationReport
from .reconciliation import difference_line


def _task_names():
    """Every task the outbox can defer: the Celery tasks of the apps."""
    from .celery import app

    app.loader.import_default_modules()  # a web process imports the apps' tasks only when asked
    return [(name, name) for name in sorted(app.tasks) if not name.startswith("celery.")]


@admin.action(description="Try the selected deferred tasks again at the next sweep")
def retry_now(modeladmin, request, queryset):
    count = queryset.filter(done_at__isnull=True).update(next_attempt_at=timezone.now(), failed_at=None)
    tasks = "1 deferred task" if count == 1 else f"{count} deferred tasks"
    messages.success(request, f"{tasks} will run at the next sweep (within a minute).")


@admin.register(OutboxTask)
class OutboxTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "created_at", "attempts", "next_attempt_at", "done_at", "failed_at"]
    list_filter = [
        fixed_choices_filter("task", "task", _task_names),
        ("done_at", admin.EmptyFieldListFilter),
        ("failed_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["=id", "task", "last_error"]
    readonly_fields = [f.name for f in OutboxTask._meta.fields]
    actions = [retry_now]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HasDifferences(admin.SimpleListFilter):
    title = "result"
    parameter_name = "differs"

    def lookups(self, request, model_admin):
        return [("yes", "With differences"), ("no", "Stripe matches")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(difference_count__gt=0)
        if self.value() == "no":
            return queryset.filter(difference_count=0)
        return queryset


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(admin.ModelAdmin):
    """Read-only: reports are written by `reconcile_stripe` runs (beat, once a day)."""

    list_display = ["run_at", "since", "result"]
    list_filter = [HasDifferences]
    date_hierarchy = "run_at"
    fields = ["run_at", "since", "difference_count", "checked", "difference_list"]
    readonly_fields = fields

    @admin.display(description="Differences", ordering="difference_count")
    def result(self, obj):
        if not obj.difference_count:
            return format_html('<span style="color:#2e7d32">{}</span>', "None: Stripe matches")
        return format_html(
            '<strong style="color:#ba2121">{} difference{}</strong>',
            obj.difference_count,
            "" if obj.difference_count == 1 else "s",
        )

    @admin.display(description="What differs")
    def difference_list(self, obj):
        if not obj.differences:
            return "Nothing: every record matches Stripe."
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{}</li>", ((difference_line(d),) for d in obj.differences)),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
