"""
The platform timezone, for everything shown to people: pages, the admin and emails.

Instants are stored in UTC; a person reads them in the platform's timezone, the one the
Payout Cycle Settings hold (so "completed on the 5th" on an order page and "available on
the 12th" on the payouts page count days the same way). The platform layer imports no
business app, so finance registers where the timezone comes from, in its `ready()`.
"""

import zoneinfo
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, tzinfo

from django.db import DatabaseError
from django.utils import timezone

_source: Callable[[], tzinfo] | None = None


def platform_timezone_source_register(source: Callable[[], tzinfo]) -> None:
    global _source
    _source = source


def platform_timezone() -> tzinfo:
    """The platform's timezone (Django's TIME_ZONE until a source is registered, or when
    the database cannot say, e.g. before migrations ran)."""
    if _source is not None:
        try:
            return _source()
        except (zoneinfo.ZoneInfoNotFoundError, DatabaseError):  # no settings table yet
            pass
    return timezone.get_default_timezone()


def platform_localtime(value):
    """An aware instant as the platform's wall-clock time."""
    return timezone.localtime(value, platform_timezone())


@contextmanager
def platform_timezone_active():
    """Render templates (an email, a page) with dates in the platform timezone."""
    with timezone.override(platform_timezone()):
        yield


class PlatformTimezoneMiddleware:
    """Every page shows dates and times in the platform timezone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with platform_timezone_active():
            return self.get_response(request)


# The one way dates are written for people, on pages, in the admin and in emails:
# "6 Dec 2026" and "6 Dec 2026, 14:05", in the platform timezone. Templates use the same
# formats through Django's DATE_FORMAT and DATETIME_FORMAT (marketplace/formats/en).
DATE_STYLE = "%-d %b %Y"
DATETIME_STYLE = "%-d %b %Y, %H:%M"


def date_text(value, *, weekday: bool = False) -> str:
    """A date, or the day of an aware instant in the platform timezone: "6 Dec 2026"
    ("Sun 6 Dec 2026" with `weekday`, where the day of the week matters: payout days)."""
    if isinstance(value, datetime):
        value = platform_localtime(value)
    return value.strftime(("%a " if weekday else "") + DATE_STYLE)


def datetime_text(value) -> str:
    """An aware instant in the platform timezone: "6 Dec 2026, 14:05"."""
    return platform_localtime(value).strftime(DATETIME_STYLE)
