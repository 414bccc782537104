"""
Admin → Finance Settings → payout settings changes: the log of every saved change to the
Payout Cycle Settings (who, when, before and after), read only.

The Payout Cycle Settings page itself is registered by `payouts.admin_settings`: its
live preview is payouts' schedule logic, and finance imports nothing from payouts. The
model is finance's, so the admin still lists it here under "Finance Settings".
"""

from django.contrib import admin

from .models import PayoutSettingsChange


@admin.register(PayoutSettingsChange)
class PayoutSettingsChangeAdmin(admin.ModelAdmin):
    list_display = ["changed_at", "changed_by", "summary"]
    fields = ["changed_at", "changed_by", "summary"]
    readonly_fields = fields
    # Only the staff who changed the settings, not every user of the platform.
    list_filter = [("changed_by", admin.RelatedOnlyFieldListFilter)]

    @admin.display(description="What changed")
    def summary(self, obj):
        return obj.summary()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
