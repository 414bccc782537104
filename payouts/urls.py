from django.urls import path

from . import views

app_name = "payouts"

urlpatterns = [
    path("seller/payouts/", views.seller_payouts, name="seller_payouts"),
    path("seller/payouts/account/", views.payout_account, name="payout_account"),
    path("seller/payouts/account/bank/", views.bank_details_save, name="bank_details_save"),
    path("seller/payouts/account/stripe/", views.stripe_start, name="stripe_start"),
    path("seller/payouts/account/stripe/continue/", views.stripe_refresh, name="stripe_refresh"),
    path("seller/payouts/account/stripe/return/", views.stripe_return, name="stripe_return"),
]
