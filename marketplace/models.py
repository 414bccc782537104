from django.db import models
from django.utils import timezone

from .platform_time import datetime_text


class Heartbeat(models.Model):
    """The last time a Celery worker ran the heartbeat task that beat sends every
    minute: ops read it on /healthz to see that worker and beat are both alive."""

    name = models.CharField(max_length=50, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {datetime_text(self.seen_at)}"


class OutboxTask(models.Model):
    """A deferred call to a Celery task, written in the transaction that decides it (see
    marketplace/outbox.py). A worker runs it once and sets `done_at`; until then
    `next_attempt_at` says when it may be tried (again)."""

    task = models.CharField(max_length=200, help_text="Name of the Celery task to run.")
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the outbox gave up after its last attempt."
    )

    class Meta:
        verbose_name = "deferred task"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(done_at__isnull=True, failed_at__isnull=True),
                name="outbox_task_pending",
            )
        ]

    def __str__(self):
        return f"{self.task}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"


class ReconciliationReport(models.Model):
    """One run of the reconciliation with Stripe (marketplace/reconciliation.py): what
    differed between local records and Stripe for objects created since `since`. Beat
    stores one a day; staff read the newest in the admin."""

    run_at = models.DateTimeField(default=timezone.now, db_index=True)
    since = models.DateField(help_text="Objects created on or after this date were compared.")
    difference_count = models.PositiveIntegerField(default=0)
    differences = models.JSONField(default=list, blank=True)
    checked = models.JSONField(
        default=dict, blank=True, help_text="How many objects of each kind were compared."
    )

    class Meta:
        ordering = ["-run_at", "-id"]
        verbose_name = "Stripe reconciliation report"

    def __str__(self):
        return f"Stripe reconciliation of {datetime_text(self.run_at)}"
