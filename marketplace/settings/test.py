"""
Test settings: the base settings with what makes a test run fast and self-contained.
DATABASE_URL and CELERY_BROKER_URL still come from the environment, so the same suite
runs on SQLite locally and on PostgreSQL and Redis in CI.
"""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The outbox sender delivers through post_office's backend: locmem too, so that
# django.core.mail.outbox receives what the sender sent.
POST_OFFICE = {**POST_OFFICE, "BACKENDS": {"default": EMAIL_BACKEND}}  # noqa: F405
# Tasks run in the test process; the one test that needs a real worker starts one.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Gateway tests talk to a localstripe the suite starts; no pacing or backoff sleeps there.
STRIPE_MAX_REQUESTS_PER_SECOND = 0
STRIPE_RETRY_BACKOFF_SECONDS = 0
STRIPE_TIMEOUT_SECONDS = 10
# Most tests run inside one database transaction that other threads cannot see; the
# PostgreSQL race tests pass their own concurrency.
BILLING_CONCURRENCY = 1
