from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

admin.site.site_header = "Marketplace back office"
admin.site.site_title = "Marketplace admin"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every page that names no icon (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("stripe_integration.urls")),
    path("", include("billing.urls")),
    path("", include("orders.urls")),
    path("", include("payouts.urls")),
]
