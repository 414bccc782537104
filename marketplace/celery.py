"""The Celery app. Settings are read from Django's, under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings.base")

app = Celery("marketplace")
# The current app is per thread; without a default, a thread the charging loop starts
# would find none of the tasks when the outbox publishes after commit.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
