from django.urls import path

from . import webhooks

app_name = "stripe_integration"

urlpatterns = [
    path("webhooks/stripe/", webhooks.stripe_webhook, name="stripe_webhook"),
]
