"""
What django-axes counts login failures by: the email typed, as accounts store it
(lowercase), and the client's address; and the two wider limits it cannot express itself.

django-axes locks by (email, address) after LOGIN_FAILURE_LIMIT failures. It has one limit
for every lockout parameter, so the wider ones, which need higher limits, are counted here
from the same rows (its AccessAttempt table, over the same cool-off window):

- one address, any accounts (password spraying: a few guesses at every account):
  LOGIN_ADDRESS_FAILURE_LIMIT;
- one account, any addresses (a botnet guessing one account): LOGIN_ACCOUNT_FAILURE_LIMIT.

Neither wider pause applies to an account signing in from an address it has signed in from
successfully within KNOWN_ADDRESS_DAYS (django-axes's AccessLog): so a stranger guessing at a
seller's account, from anywhere, cannot keep the seller out of it from where they usually
work, while the attacker (who never signed in) stays paused. The (email, address) limit
applies everywhere.
"""

from datetime import timedelta

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.db.models import Sum

KNOWN_ADDRESS_DAYS = 90
PAIR, ADDRESS, ACCOUNT = "pair", "address", "account"


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
    pause = getattr(request, "login_pause", PAIR)
    limits = {
        PAIR: settings.AXES_FAILURE_LIMIT,
        ADDRESS: settings.LOGIN_ADDRESS_FAILURE_LIMIT,
        ACCOUNT: settings.LOGIN_ACCOUNT_FAILURE_LIMIT,
    }
    return render(
        request,
        "registration/locked_out.html",
        {
            "pause": pause,
            "failure_limit": limits[pause],
            "minutes": minutes,
            "username": login_username(request, credentials),
        },
        status=429,
    )


class LoginThrottleHandler(AxesDatabaseHandler):
    """django-axes's database handler, with the address-wide and account-wide limits
    (module docstring). Which limit paused a sign-in is left on the request
    (`login_pause`) for the page that says so."""

    def is_locked(self, request, credentials=None) -> bool:
        if super().is_locked(request, credentials):
            request.login_pause = PAIR
            return True
        pause = self._wider_pause(request, credentials)
        if pause:
            request.login_pause = pause
            return True
        return False

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        # The failure that reaches a wider limit is paused already, as the pair's is.
        if request is not None and not request.axes_locked_out:
            pause = self._wider_pause(request, credentials)
            if pause:
                request.login_pause = pause
                request.axes_locked_out = True
                request.axes_credentials = credentials

    def _wider_pause(self, request, credentials) -> str | None:
        username = login_username(request, credentials)
        address = request.axes_ip_address
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        over = None
        if _failures(recent.filter(ip_address=address)) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            over = ADDRESS
        elif username and _failures(recent.filter(username=username)) >= settings.LOGIN_ACCOUNT_FAILURE_LIMIT:
            over = ACCOUNT
        if over and username and _signed_in_from_before(request, username, address):
            return None
        return over


def _failures(attempts) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def _signed_in_from_before(request, username: str, address: str) -> bool:
    since = request.axes_attempt_time - timedelta(days=KNOWN_ADDRESS_DAYS)
    return AccessLog.objects.filter(username=username, ip_address=address, attempt_time__gte=since).exists()
