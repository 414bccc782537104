from django.contrib.auth.decorators import login_required
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import health
from .models import Heartbeat


@require_safe
@never_cache
def healthz(request):
    """200 when the database and the broker answer, 503 naming each part that does not.
    The last worker heartbeat is reported too, for information: a quiet worker does not
    make the web process unready."""
    problems = {"database": health.check_database(), "broker": health.check_broker()}
    body = {part: ("ok" if problem is None else problem) for part, problem in problems.items()}
    failing = [part for part, problem in problems.items() if problem is not None]
    body["status"] = "ok" if not failing else "unavailable: " + ", ".join(failing)
    if problems["database"] is None:
        beat = Heartbeat.objects.filter(name="worker").first()
        body["worker_last_seen"] = beat.seen_at.isoformat() if beat else None
    body["time"] = timezone.now().isoformat()
    return JsonResponse(body, status=200 if not failing else 503)


@login_required
def home(request):
    """Send each person to where their work is."""
    if request.user.is_staff and not (request.user.is_seller or request.user.is_buyer):
        return redirect("admin:index")
    return render(request, "home.html")


def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): send them
    to the icon among the static files (its hashed name in production)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
