from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def seller_required(view):
    """Signed in, and a seller: seller pages answer 403 to everyone else."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_seller:
            raise PermissionDenied("These pages are for sellers.")
        return view(request, *args, **kwargs)

    return wrapped
