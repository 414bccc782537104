"""Ops' view of the outbox. Emails are django-post-office's own admin (Post Office >
Emails: sent, failed, requeue); deferred task calls are listed here."""

from django.contrib import admin, messages
from django.utils import timezone

from .models import OutboxTask


@admin.action(description="Try the selected deferred tasks again at the next sweep")
def retry_now(modeladmin, request, queryset):
    count = queryset.filter(done_at__isnull=True).update(next_attempt_at=timezone.now(), failed_at=None)
    messages.success(request, f"{count} deferred task(s) will run at the next sweep (within a minute).")


@admin.register(OutboxTask)
class OutboxTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "created_at", "attempts", "next_attempt_at", "done_at", "failed_at"]
    list_filter = ["task", ("done_at", admin.EmptyFieldListFilter), ("failed_at", admin.EmptyFieldListFilter)]
    search_fields = ["=id", "task", "last_error"]
    readonly_fields = [f.name for f in OutboxTask._meta.fields]
    actions = [retry_now]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
