from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("billing/card/<str:token>/", views.update_card, name="update_card"),
    path("billing/card/<str:token>/status/", views.card_status, name="card_status"),
    path("billing/receipt/<str:token>/", views.receipt, name="receipt"),
    path("billing/card/<str:token>/setup/", views.card_setup, name="card_setup"),
]
