"""
Admin → Finance Settings → Payout Cycle Settings: one record, a live preview of what the
values mean, and the log of every change (who, when, before and after).

The model and its change log are finance's (so the admin lists the page under "Finance
Settings", at /admin/finance/payoutcyclesettings/), but the preview is payouts' schedule
logic, and finance imports nothing from payouts: so the page is registered here, from
`payouts.admin`. Saving goes through finance's `payout_settings_update`.
"""

from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from finance.forms import PayoutCycleSettingsForm
from finance.models import PayoutCycleSettings, PayoutSettingsChange
from finance.services import payout_settings_update
from marketplace.admin_parts import when

from .selectors import payout_preview_lines


@admin.register(PayoutCycleSettings)
class PayoutCycleSettingsAdmin(admin.ModelAdmin):
    form = PayoutCycleSettingsForm
    change_form_template = "admin/finance/payoutcyclesettings/change_form.html"
    readonly_fields = ["preview", "recent_changes"]
    fieldsets = [
        ("Payout rule (T+N)", {"fields": ["delay_days"]}),
        (
            "Payout schedule",
            {
                "fields": [
                    "schedule",
                    "weekdays",
                    "month_days",
                    "timezone",
                    "roll_to_business_day",
                    "holiday_country",
                ]
            },
        ),
        (
            "Amounts",
            {"fields": ["minimum_payout_amount", "minimum_payout_by_currency", "platform_fee_bps"]},
        ),
        ("Sending", {"fields": ["provider", "cooling_off_days", "payouts_paused"]}),
        ("Disputes", {"fields": ["dispute_fee_charged_to_seller"]}),
        ("Preview", {"fields": ["preview"]}),
        ("Change log", {"fields": ["recent_changes"]}),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        obj = PayoutCycleSettings.load()
        return redirect(reverse("admin:finance_payoutcyclesettings_change", args=[obj.pk]))

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="finance_payoutcyclesettings_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        """The live preview: the form's current values, validated like a save, not saved."""
        if not self.has_view_or_change_permission(request):
            return JsonResponse({"errors": ["You may not see the payout settings."]}, status=403)
        form = self.form(request.POST or None, instance=PayoutCycleSettings.load())
        if not form.is_valid():
            # Each error after the label the admin sees on the form ("Weekdays: ..."); errors
            # about the form as a whole stand alone.
            errors = [
                f"{form[name].label}: {' '.join(msgs)}" if name in form.fields else " ".join(msgs)
                for name, msgs in form.errors.items()
            ]
            return JsonResponse({"errors": errors}, status=400)
        return JsonResponse(payout_preview_lines(config=form.instance))

    @admin.display(description="What these values mean")
    def preview(self, obj):
        # The saved values: the instance may hold what a refused form posted. The page's
        # script previews unsaved values through `preview_view`.
        lines = payout_preview_lines(config=PayoutCycleSettings.load())
        return format_html(
            '<div id="payout-preview" data-url="{}" aria-live="polite"><ul class="errorlist"></ul>'
            '<div class="preview-dates"><p class="sentence"><strong>{}</strong></p>'
            '<p>Next six payout dates:</p><ul class="dates">{}</ul></div></div>',
            reverse("admin:finance_payoutcyclesettings_preview"),
            lines["sentence"],
            format_html_join("", "<li>{}</li>", ((d,) for d in lines["next_dates_text"])),
        )

    @admin.display(description="Recent changes")
    def recent_changes(self, obj):
        changes = PayoutSettingsChange.objects.select_related("changed_by")[:10]
        if not changes:
            return "No change yet."
        rows = []
        for change in changes:
            rows.append((when(change.changed_at), change.changed_by or "(system)", change.summary()))
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} by {}: {}</li>", rows))

    def save_model(self, request, obj, form, change):
        payout_settings_update(edited=obj, by=request.user)
