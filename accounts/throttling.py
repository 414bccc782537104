"""
What django-axes counts login failures by: the email typed, as accounts store it
(lowercase), and the client's address.
"""

from django.conf import settings


def login_username(request, credentials) -> str:
    """The email from the login form (or the credentials passed to authenticate())."""
    # authenticate()'s own credentials say "username"; the ones django-axes builds for its
    # lockout check use the user model's USERNAME_FIELD ("email"): both must count alike.
    credentials = credentials or {}
    value = credentials.get("username") or credentials.get("email") or request.POST.get("username", "")
    return str(value).strip().lower()[:255]


def client_ip(request) -> str:
    """The connection's address, or, behind TRUSTED_PROXY_COUNT proxies that each append to
    X-Forwarded-For, the address the outermost proxy saw. Entries further left were written
    by the client and could be anything, so they are never used."""
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets, on the sign-in page and the admin's (429)."""
    from django.shortcuts import render

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/locked_out.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": minutes,
            "username": login_username(request, credentials),
        },
        status=429,
    )
