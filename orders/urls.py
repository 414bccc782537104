from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("seller/orders/", views.seller_orders, name="seller_orders"),
    path("seller/orders/<int:order_id>/", views.seller_order, name="seller_order"),
    path("seller/orders/<int:order_id>/refund/", views.seller_order_refund, name="seller_order_refund"),
    path(
        "seller/orders/<int:order_id>/<slug:action>/", views.seller_order_action, name="seller_order_action"
    ),
    path("orders/", views.buyer_orders, name="buyer_orders"),
    path("orders/<int:order_id>/", views.buyer_order, name="buyer_order"),
    path("orders/<int:order_id>/<slug:action>/", views.buyer_order_action, name="buyer_order_action"),
    path("confirm/<int:order_id>/<str:token>/", views.confirmation_link, name="confirmation_link"),
]
