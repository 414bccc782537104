"""People get the product's own "not found" page, also under DEBUG=1 (the default of
`make run`), where Django would show its technical page listing every URL pattern to
whoever mistyped an order number. Server errors keep Django's technical page under DEBUG
(for the developer at the keyboard) and get templates/500.html in production."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render


def _not_found(request):
    return render(request, "404.html", status=404)


class FriendlyNotFoundMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # No view matched the path (a view's own 404 went through process_exception).
        if (
            settings.DEBUG
            and response.status_code == 404
            and getattr(request, "resolver_match", None) is None
        ):
            return _not_found(request)
        return response

    def process_exception(self, request, exception):
        if settings.DEBUG and isinstance(exception, Http404):
            return _not_found(request)
        return None
