from django.contrib import admin

from .models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["stripe_id", "type", "received_at", "processed_at", "result"]
    list_filter = ["type"]
    search_fields = ["stripe_id"]
    readonly_fields = ["stripe_id", "type", "payload", "received_at", "processed_at", "result"]
