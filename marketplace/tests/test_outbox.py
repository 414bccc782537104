"""The outbox's own rules: what a rolled-back change queues, and that concurrent
senders send one email once."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from post_office.models import STATUS, Email

from marketplace.models import OutboxTask
from marketplace.outbox import outbox_email, outbox_task
from marketplace.outbox_send import outbox_sweep

TEMPLATE = "payouts/email/notice"
CONTEXT = {"subject": "Your payout", "lines": ["It is on its way."], "action_url": "/"}


@pytest.mark.django_db
def test_a_rolled_back_transaction_queues_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox_email(to="seller@example.com", template_prefix=TEMPLATE, context=CONTEXT)
            outbox_task(task="marketplace.record_heartbeat", kwargs={"name": "outbox"})
            raise RuntimeError("the change failed")
    assert callbacks == []
    assert not Email.objects.exists() and not OutboxTask.objects.exists()
    assert outbox_sweep(now=timezone.now() + timedelta(minutes=5)).emails_sent == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_one_transaction_publishes_once_for_all_its_emails_and_tasks(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            outbox_email(to="a@example.com", template_prefix=TEMPLATE, context=CONTEXT)
            outbox_email(to="b@example.com", template_prefix=TEMPLATE, context=CONTEXT)
            outbox_task(task="marketplace.record_heartbeat", kwargs={"name": "outbox"})
    assert len(callbacks) == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]
    assert OutboxTask.objects.get().done_at is not None


@pytest.mark.django_db
def test_a_failing_deferred_task_is_retried_by_the_sweep_with_backoff(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = outbox_task(task="payouts.submit", kwargs={"payout_date": "not a date"})
    row.refresh_from_db()
    assert (row.attempts, row.done_at) == (1, None) and "not a date" in row.last_error
    assert outbox_sweep().tasks_failed == 0  # not due yet
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert outbox_sweep().tasks_failed == 1
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_task_name_nobody_registered_is_refused_at_once(db):
    with pytest.raises(ValueError, match="No Celery task"):
        outbox_task(task="payouts.no_such_task", kwargs={})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_senders_send_one_email_once():
    with mock.patch("marketplace.outbox.outbox_publish"):  # the broker lost the message
        email = outbox_email(to="seller@example.com", template_prefix=TEMPLATE, context=CONTEXT)
    Email.objects.filter(pk=email.pk).update(created=timezone.now() - timedelta(minutes=5))
    barrier = threading.Barrier(2)
    one_finished = threading.Event()
    reports, errors = [], []

    def sender():
        try:
            barrier.wait(timeout=10)
            reports.append(outbox_sweep())
            one_finished.set()
        except Exception as exc:  # shown by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # The sender that claims the email holds its row lock while sending; it sends only
    # once the other sender has finished its sweep, so the two certainly overlap.
    original = Email.dispatch

    def dispatch_after_the_other_sender(self, *args, **kwargs):
        one_finished.wait(timeout=10)
        return original(self, *args, **kwargs)

    Email.dispatch = dispatch_after_the_other_sender
    try:
        threads = [threading.Thread(target=sender) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        Email.dispatch = original
    assert errors == []
    assert sorted(r.emails_sent for r in reports) == [0, 1]
    assert [m.to for m in mail.outbox] == [["seller@example.com"]]
    assert Email.objects.get().status == STATUS.sent


@pytest.mark.django_db
def test_ops_see_sent_and_failed_mail_and_deferred_tasks_in_the_admin(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outbox_email(to="seller@example.com", template_prefix=TEMPLATE, context=CONTEXT)
    index = admin_client.get("/admin/").content.decode()
    assert "/admin/post_office/email/" in index and "/admin/marketplace/outboxtask/" in index
    emails = admin_client.get("/admin/post_office/email/").content.decode()
    assert "seller@example.com" in emails and "requeue" in emails.lower()


@pytest.mark.django_db
def test_a_stripe_call_is_never_given_up_while_stripe_does_not_answer(django_capture_on_commit_callbacks):
    from marketplace.exceptions import GatewayUnavailable
    from marketplace.outbox_send import TASK_MAX_ATTEMPTS

    with mock.patch("billing.tasks.payment_intent_cancel", side_effect=GatewayUnavailable("no answer")):
        with django_capture_on_commit_callbacks(execute=True):
            row = outbox_task(
                task="billing.withdraw_bank_confirmation", kwargs={"stripe_id": "pi_x", "invoice_id": 1}
            )
        later = timezone.now()
        for _ in range(TASK_MAX_ATTEMPTS + 2):
            later += timedelta(hours=2)
            with time_machine.travel(later):
                outbox_sweep()
    row.refresh_from_db()
    assert row.attempts == TASK_MAX_ATTEMPTS + 3 and row.failed_at is None and row.next_attempt_at is not None
