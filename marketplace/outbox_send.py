"""
The worker side of the outbox (marketplace/outbox.py): claim a queued email or deferred
task with SELECT ... FOR UPDATE SKIP LOCKED, act on it, and record the outcome, so that
each goes out once however many workers (and sweeps) run at the same time.

Why not post_office's own sender (`send_queued_mail`, or its Celery hook): it reads the
queue without row locks and relies on a lock file on the local disk, so two workers on two
hosts can both send the same email. Here the row lock is the claim.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from post_office.connections import connections
from post_office.models import STATUS, Email, Log
from post_office.settings import get_max_retries, get_retry_timedelta

from .exceptions import GatewayUnavailable
from .models import OutboxTask
from .outbox import registered_task

logger = logging.getLogger(__name__)

# Rows younger than this are left to the deliver task their transaction published.
SWEEP_AFTER = timedelta(minutes=1)
# How long a claimed deferred task may run before another worker may take it again.
TASK_LEASE = timedelta(minutes=10)
# A deferred task is tried this many times (1, 2, 4 ... minutes apart, at most an hour),
# except while the payment service does not answer: a Stripe call left undone can cost a
# customer or a seller money (a payment left confirmable, a transfer not checked), so it is
# tried hourly for as long as it takes, and logged as an error each time past this count.
TASK_MAX_ATTEMPTS = 12
TASK_BACKOFF_MAX = timedelta(hours=1)
# One sweep sends at most this many of each; the next minute's sweep goes on.
SWEEP_BATCH = 500


@dataclass
class DeliveryReport:
    """What one deliver or sweep did: emails sent, or not sent (requeued or failed);
    deferred tasks done, or failed (to be tried again, or given up)."""

    emails_sent: int = 0
    emails_not_sent: int = 0
    tasks_done: int = 0
    tasks_failed: int = 0

    def add_email(self, sent: bool | None) -> None:
        if sent is not None:
            self.emails_sent += sent
            self.emails_not_sent += not sent

    def add_task(self, done: bool | None) -> None:
        if done is not None:
            self.tasks_done += done
            self.tasks_failed += not done


def _due_emails(now):
    return Email.objects.filter(
        Q(scheduled_time__isnull=True) | Q(scheduled_time__lte=now),
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        status__in=[STATUS.queued, STATUS.requeued],
    )


def _email_send_one(*, email_id: int | None, created_before=None) -> bool | None:
    """Claim one due email (this id, or the oldest due one), send it and record the
    outcome in the same transaction. None when there was nothing to claim."""
    now = timezone.now()
    with transaction.atomic():
        queued = _due_emails(now).select_for_update(skip_locked=True)
        if email_id is not None:
            queued = queued.filter(pk=email_id)
        if created_before is not None:
            queued = queued.filter(created__lte=created_before)
        email = queued.order_by("pk").first()
        if email is None:
            return None
        try:
            # commit=False: post_office leaves the bookkeeping to us and re-raises.
            email.dispatch(commit=False, disconnect_after_delivery=False)
            error = None
        except Exception as exc:
            error = exc
        finally:
            connections.close()
        retries = email.number_of_retries or 0
        if error is None:
            email.status = STATUS.sent
        elif retries < get_max_retries():
            email.status, email.number_of_retries = STATUS.requeued, retries + 1
            email.scheduled_time = timezone.now() + get_retry_timedelta()
        else:
            email.status = STATUS.failed
        Email.objects.filter(pk=email.pk).update(
            status=email.status,
            number_of_retries=email.number_of_retries,
            scheduled_time=email.scheduled_time,
            last_updated=timezone.now(),
        )
        Log.objects.create(
            email=email,
            status=STATUS.sent if error is None else STATUS.failed,
            message=str(error or ""),
            exception_type=type(error).__name__ if error else "",
        )
    if error is not None:
        logger.warning("Email %s to %s not sent (%s); status %s", email.pk, email.to, error, email.status)
    return error is None


def _task_claim(*, task_id: int | None, created_before=None) -> OutboxTask | None:
    now = timezone.now()
    with transaction.atomic():
        due = OutboxTask.objects.select_for_update(skip_locked=True).filter(
            done_at__isnull=True, failed_at__isnull=True
        )
        if task_id is not None:
            # The deliver task takes only a row nobody has tried: a late or repeated
            # message never runs a row that is leased or waiting for its retry.
            due = due.filter(pk=task_id, attempts=0)
        else:
            due = due.filter(next_attempt_at__lte=now)
        if created_before is not None:
            due = due.filter(created_at__lte=created_before)
        row = due.order_by("next_attempt_at", "pk").first()
        if row is None:
            return None
        # The lease: other claimers skip it until the run is over (or long overdue).
        row.attempts += 1
        row.next_attempt_at = now + TASK_LEASE
        row.save(update_fields=["attempts", "next_attempt_at"])
    return row


def _task_run_one(*, task_id: int | None, created_before=None) -> bool | None:
    """Claim one due deferred task, run it outside any transaction (it opens its own),
    and mark it done, or schedule the next try. None when there was nothing to claim."""
    row = _task_claim(task_id=task_id, created_before=created_before)
    if row is None:
        return None
    try:
        # Called directly, not through the broker: a task's `self.retry` raises its
        # error here, and the outbox schedules the next attempt.
        registered_task(row.task)(**row.kwargs)
    except Exception as exc:
        logger.exception("Deferred task %s (outbox #%s) failed, attempt %s", row.task, row.pk, row.attempts)
        now = timezone.now()
        update = {"last_error": f"{type(exc).__name__}: {exc}"[:2000]}
        if row.attempts >= TASK_MAX_ATTEMPTS and not isinstance(exc, GatewayUnavailable):
            update["failed_at"] = now
        else:
            update["next_attempt_at"] = now + min(
                timedelta(minutes=2 ** (row.attempts - 1)), TASK_BACKOFF_MAX
            )
        OutboxTask.objects.filter(pk=row.pk).update(**update)
        return False
    OutboxTask.objects.filter(pk=row.pk).update(done_at=timezone.now(), last_error="")
    return True


def outbox_deliver(*, email_ids: list[int], task_ids: list[int]) -> DeliveryReport:
    """Send the emails and run the deferred tasks one committed transaction wrote. Rows
    another worker has claimed, or already sent, are skipped."""
    report = DeliveryReport()
    for email_id in email_ids:
        report.add_email(_email_send_one(email_id=email_id))
    for task_id in task_ids:
        report.add_task(_task_run_one(task_id=task_id))
    return report


def outbox_sweep(*, now=None) -> DeliveryReport:
    """What beat runs every minute: everything due that is older than SWEEP_AFTER (its
    publish was lost, the broker was down, or it waits for a retry)."""
    created_before = (now or timezone.now()) - SWEEP_AFTER
    report = DeliveryReport()
    for _ in range(SWEEP_BATCH):
        sent = _email_send_one(email_id=None, created_before=created_before)
        if sent is None:
            break
        report.add_email(sent)
    for _ in range(SWEEP_BATCH):
        done = _task_run_one(task_id=None, created_before=created_before)
        if done is None:
            break
        report.add_task(done)
    return report
