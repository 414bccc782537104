from django.urls import path

from . import views, webhooks

app_name = "billing"

urlpatterns = [
    path("billing/card/<str:token>/", views.update_card, name="update_card"),
    path("webhooks/stripe/", webhooks.stripe_webhook, name="stripe_webhook"),
]
