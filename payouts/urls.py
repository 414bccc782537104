from django.urls import path

from . import views

app_name = "payouts"

urlpatterns = [
    path("seller/payouts/", views.seller_payouts, name="seller_payouts"),
]
