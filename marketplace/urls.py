from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "Marketplace back office"
admin.site.site_title = "Marketplace admin"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every page that names no icon (the admin's).
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("stripe_integration.urls")),
    path("", include("billing.urls")),
    path("", include("orders.urls")),
    path("", include("payouts.urls")),
]
