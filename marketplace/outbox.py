"""
Side effects that survive a broker outage: every email and every deferred task call is a
row, written in the same database transaction as the change that causes it.

The transaction boundary is the point. A service calls `outbox_email(...)` or
`outbox_task(...)` inside its `transaction.atomic()`; the row commits with the change or
rolls back with it, so a rolled-back change sends nothing and a committed one can no
longer lose its email. Only after commit do we publish ONE small Celery message per
committed transaction (the rows of a transaction form one batch with one on_commit
callback), `marketplace.outbox_deliver` with the ids written in it, so that a worker sends
them within seconds. Publishing is best effort and bounded: about a second
when Redis is hung (settings: socket timeouts, one connection try, no publish retries),
and after a failure this process skips publishing for BROKER_BACKOFF_SECONDS so that a
burst of requests does not each wait. Whatever was not published, `marketplace.outbox_sweep`
(beat, every minute) sends once it is a minute old.

Exactly once: workers claim a row before acting on it, with
`SELECT ... FOR UPDATE SKIP LOCKED` (marketplace/outbox_send.py). Two workers, or the
deliver task and the sweep, never get the same row: an email is sent while its row is
locked and marked sent in that same transaction; a deferred task is leased (its
`next_attempt_at` pushed past the run) in a short transaction, run outside it, and marked
done. A worker that dies mid-way leaves the email unsent (its transaction rolls back) or
the task's lease to expire, so a crash repeats a side effect rather than losing it.

Emails are django-post-office `Email` rows (its admin lists sent and failed mail and
requeues), rendered here, in the caller's transaction, from `<prefix>_subject.txt`,
`<prefix>.txt` and `<prefix>.html`. Deferred calls are `marketplace.OutboxTask` rows
naming a registered Celery task and its JSON keyword arguments.
"""

import logging
import threading
import time

from celery import Task, current_app
from django.conf import settings
from django.db import transaction
from post_office.models import PRIORITY, STATUS, Email

from .emails import email_render
from .models import OutboxTask

logger = logging.getLogger(__name__)

# After a failed publish this process publishes nothing for this long (the sweep sends).
BROKER_BACKOFF_SECONDS = 15.0

_local = threading.local()
_broker_down_until = 0.0


def outbox_email(*, to: str, template_prefix: str, context: dict) -> Email:
    """Render an email now and queue it in the caller's transaction; it is sent after
    commit by a worker, exactly once. `context` gets `site_url` added."""
    rendered = email_render(template_prefix=template_prefix, context=context)
    # Email is created directly, not through post_office.mail.send(): send() runs the
    # rendered subject and bodies through the template engine a second time, which would
    # mangle (or evaluate) any "{{" or "{%" a user typed into a message.
    email = Email.objects.create(
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        subject=rendered.subject,
        message=rendered.text_body,
        html_message=rendered.html_body,
        status=STATUS.queued,
        priority=PRIORITY.medium,
    )
    _deliver_after_commit(email_id=email.pk)
    return email


def outbox_task(*, task: str | Task, kwargs: dict | None = None) -> OutboxTask:
    """Record a call of the Celery task `task` (a task or its registered name) with
    `kwargs` (JSON: ids and ISO dates, not model instances) in the caller's transaction.
    A worker runs it after commit; a failure is retried with backoff (the task's own
    `self.retry` raises back to the outbox, which owns the schedule)."""
    name = task if isinstance(task, str) else task.name
    registered_task(name)  # fail now, in the caller, on a typo
    row = OutboxTask.objects.create(task=name, kwargs=kwargs or {})
    _deliver_after_commit(task_id=row.pk)
    return row


def registered_task(name: str) -> Task:
    """The Celery task registered as `name`. Web processes import the apps' tasks
    modules only when asked (the worker does at start), hence the import here."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    try:
        return current_app.tasks[name]
    except KeyError:
        raise ValueError(f"No Celery task is registered as {name!r}") from None


class _Batch:
    """The outbox rows one transaction wrote, published together by one on_commit callback."""

    def __init__(self):
        self.email_ids: list[int] = []
        self.task_ids: list[int] = []
        self.published = False

    def publish(self) -> None:
        if not self.published:
            self.published = True
            outbox_publish(email_ids=self.email_ids, task_ids=self.task_ids)


def _deliver_after_commit(*, email_id: int | None = None, task_id: int | None = None) -> None:
    """Add the new row to this transaction's batch, whose one on_commit callback publishes
    them all: one publish per committed transaction. A batch whose callback Django has
    dropped (its transaction or savepoint rolled back) or already run is not reused."""
    connection = transaction.get_connection()
    batch = getattr(_local, "batch", None)
    if (
        batch is None
        or batch.published
        or not connection.in_atomic_block
        or not any(callback is batch.publish_callback for _, callback, _ in connection.run_on_commit)
    ):
        batch = _local.batch = _Batch()
        batch.publish_callback = batch.publish  # one bound method, found again by identity
        register = True
    else:
        register = False
    if email_id is not None:
        batch.email_ids.append(email_id)
    if task_id is not None:
        batch.task_ids.append(task_id)
    if register:  # after adding: outside a transaction on_commit runs it at once
        transaction.on_commit(batch.publish_callback)


def outbox_batch_close() -> None:
    """Start a new batch for the next row even inside the same transaction. For tests
    that capture on_commit callbacks of one block inside the test's transaction."""
    _local.batch = None


def outbox_publish(*, email_ids: list[int], task_ids: list[int]) -> bool:
    """Publish one `marketplace.outbox_deliver` for these rows; False when the broker is
    (or recently was) unavailable. Never raises: the rows are safe in the database."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        logger.info("Broker was down moments ago; the outbox sweep will send %s", (email_ids, task_ids))
        return False
    try:
        registered_task("marketplace.outbox_deliver").apply_async(
            kwargs={"email_ids": email_ids, "task_ids": task_ids}, retry=False
        )
    except Exception:
        if current_app.conf.task_always_eager:
            raise  # tests run delivery in-process: a failure there is a bug to see
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning(
            "Could not publish to the broker; the outbox sweep will send emails %s and tasks %s",
            email_ids,
            task_ids,
            exc_info=True,
        )
        return False
    return True


def outbox_broker_backoff_reset() -> None:
    """Forget a recent publish failure (tests, and a process that knows the broker is back)."""
    global _broker_down_until
    _broker_down_until = 0.0
