"""
Login throttling in the authentication chain (django-axes).
"""

from axes.backends import AxesStandaloneBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes's check, for sign-ins that come with a request: the sign-in page and the
    admin's. Code that authenticates without one (Django's test client, a shell) has no
    address to count by and is not an attacker's path, so it goes straight to the password
    check instead of failing."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
