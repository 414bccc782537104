"""Readiness checks behind /healthz: each returns None when the part answers, or a short
reason meant for an operator."""

from django.conf import settings
from django.db import connection
from kombu import Connection


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return f"{type(exc).__name__}: {exc}".strip()[:200]
    return None


def check_broker() -> str | None:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_DIR
        if not folder.is_dir():
            return f"broker folder {folder} does not exist"
        return None
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=3,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        ) as conn:
            # max_retries=0: fail on the first refusal instead of backing off for seconds.
            conn.ensure_connection(max_retries=0)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()[:200]
    return None
