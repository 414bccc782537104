"""
Requests no page here can take: refused before any view runs.

A NUL character (\\0) is in no email address, amount, reason or id, and PostgreSQL text
cannot hold one, so a form field, query parameter or path that carries one would make a
view fail half-way instead of saying what is wrong. Django's form fields already refuse
it; this covers every view that reads the request directly (admin actions, search,
filters, signed links). The Stripe webhook reads its JSON body itself and refuses NUL
characters there (stripe_integration.webhooks).
"""

from django.shortcuts import render

NUL = "\x00"
NUL_REFUSED = "The request contains a NUL character (\\0), which no form here accepts. Nothing was changed."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _carries_nul(request) -> bool:
    if NUL in request.path:
        return True
    params = [request.GET]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        params.append(request.POST)
    return any(
        NUL in key or any(NUL in value for value in query.getlist(key)) for query in params for key in query
    )


class RefuseNulCharacters:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _carries_nul(request):
            return render(request, "400.html", {"message": NUL_REFUSED}, status=400)
        return self.get_response(request)
