"""
The admin site: Django's, refusing a malformed selection before any admin action runs.

Django's admin filters the selected rows by the ids the form posts (`_selected_action`)
and only fails, with a server error, once an action reads them: an id that is not one
(a tampered form) would answer 500. Every model admin's views pass through
`admin_view`, so the check here covers the product's admins and the libraries' alike.
"""

from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

BAD_SELECTION = "The selection is not made of rows of this list. Nothing was changed."


def _selection_ok(model, values) -> bool:
    try:
        for value in values:
            model._meta.pk.to_python(value)
    except ValidationError:
        return False
    return True


class MarketplaceAdminSite(admin.AdminSite):
    def admin_view(self, view, cacheable=False):
        wrapped = super().admin_view(view, cacheable)
        model_admin = getattr(view, "__self__", None)
        if not isinstance(model_admin, admin.ModelAdmin):
            return wrapped

        @wraps(wrapped)
        def checked(request, *args, **kwargs):
            if request.method == "POST" and not _selection_ok(
                model_admin.model, request.POST.getlist(ACTION_CHECKBOX_NAME)
            ):
                messages.error(request, BAD_SELECTION)
                return HttpResponseRedirect(request.get_full_path())
            return wrapped(request, *args, **kwargs)

        return checked


class MarketplaceAdminConfig(AdminConfig):
    """django.contrib.admin with the product's site (INSTALLED_APPS names this)."""

    default_site = "marketplace.admin_site.MarketplaceAdminSite"
