"""Soft declines follow the dunning schedule, hard ones never retry that card, and a new
card resumes collection at once. Time is moved with time-machine, never slept."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from billing import services
from billing.models import DunningPolicy, PaymentMethod, Subscription, Transaction
from billing.tests.factories import PlanFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _attempt_times(invoice):
    return [a.started_at for t in invoice.transactions.order_by("id") for a in t.attempts.order_by("number")]


def test_a_soft_decline_is_retried_exactly_on_the_schedule_then_fails_for_good(billing, mailoutbox):
    with time_machine.travel(T0, tick=False):
        customer = billing.customer(card="4000000000009995")
        invoice = billing.invoice(customer)
    (charge,) = billing.charges(invoice)
    expected = [T0]
    for days in (1, 3, 5, 7):
        # Nothing happens a minute early.
        early = expected[-1] + timedelta(days=days) - timedelta(minutes=1)
        assert billing.run(now=early).attempted == 0
        expected.append(expected[-1] + timedelta(days=days))
        with time_machine.travel(expected[-1], tick=False):
            billing.run(now=expected[-1])

    invoice = billing.fresh(invoice)
    assert _attempt_times(invoice) == expected  # T0, +1, +3, +5, +7 days after each failure
    charge = Transaction.objects.get(pk=charge.pk)
    assert invoice.status == "process_failed" and charge.failure_count == 5
    subjects = [m.subject for m in mailoutbox]
    assert (
        subjects[0]
        == "We could not charge Visa •••• 9995 (exp. 12/34) – we will try again on 3 Mar 2026"
    )
    assert subjects[-1] == f"Final notice: $10.00 for invoice #{invoice.pk} (Thing) is unpaid"
    assert len([s for s in subjects if s.startswith("We could not charge")]) == 4
    assert "If it is still unpaid on 21 Mar 2026" in mailoutbox[-1].body  # 3 days' grace
    # Nothing is due any more.
    assert billing.run(now=expected[-1] + timedelta(days=60)).attempted == 0


@pytest.mark.parametrize("number", ["4000000000009987", "4000000000009979", "4100000000000019"])
def test_a_hard_decline_fails_at_once_and_that_card_is_never_charged_again(billing, number, mailoutbox):
    customer = billing.customer(card=number)
    invoice = billing.invoice(customer)

    (charge,) = billing.charges(invoice)
    assert invoice.status == "process_failed" and charge.status == "failed"
    card = PaymentMethod.objects.get()
    assert card.unusable_since is not None
    assert mailoutbox[-1].subject == f"Action needed to pay $10.00 for invoice #{invoice.pk} (Thing)"

    # A later invoice does not try the card; the admin's "retry now" refuses to.
    second = billing.invoice(customer)
    assert second.status == "init" and billing.charges(second) == []
    with pytest.raises(services.ApplicationError, match="may not be charged again"):
        services.invoice_retry_now(invoice_id=invoice.pk)
    assert billing.run(now=billing.fresh(invoice).failed_at + timedelta(days=30)).attempted == 0


def test_customer_action_failures_say_what_to_fix(billing, mailoutbox):
    invoice = billing.invoice(billing.customer(card="4000000000000069"))  # expired
    assert invoice.status == "process_failed"
    assert "The card has expired. Add a card that is valid." in mailoutbox[-1].body


def test_a_new_card_resumes_collection_at_once(billing):
    customer = billing.customer(card="4000000000009995")
    invoice = billing.invoice(customer)
    (old,) = billing.charges(invoice)
    assert old.status == "retrying"

    billing.add_card(customer, "4242424242424242")

    invoice = billing.fresh(invoice)
    old = Transaction.objects.get(pk=old.pk)
    assert invoice.status == "settled"
    assert old.status == "canceled" and old.reason == "Payment method replaced"
    assert invoice.payment_method.last4 == "4242"


def test_a_new_card_reopens_a_failed_invoice(billing):
    customer = billing.customer(card="4000000000009987")
    invoice = billing.invoice(customer)
    assert invoice.status == "process_failed"
    billing.add_card(customer, "4242424242424242")
    assert billing.fresh(invoice).status == "settled"


def test_generic_declines_are_retried_only_up_to_the_tight_cap(billing):
    DunningPolicy.objects.update_or_create(pk=1, defaults={"ambiguous_retry_cap": 1})
    with time_machine.travel(T0, tick=False):
        invoice = billing.invoice(billing.customer(card="4000000000000002"))
    billing.run(now=T0 + timedelta(days=1))
    invoice = billing.fresh(invoice)
    assert invoice.status == "process_failed" and len(_attempt_times(invoice)) == 2


def test_an_invoice_keeps_the_policy_it_started_with(billing):
    with time_machine.travel(T0, tick=False):
        invoice = billing.invoice(billing.customer(card="4000000000009995"))
    policy = DunningPolicy.load()
    policy.retry_delays = "10"
    policy.full_clean()
    policy.save()
    billing.run(now=T0 + timedelta(days=1))
    assert len(_attempt_times(billing.fresh(invoice))) == 2  # still on 1, 3, 5, 7


def test_the_dunning_policy_refuses_bad_delays():
    from django.core.exceptions import ValidationError

    for bad in ["", "1, x", "0", "1,,-3", "61"]:
        with pytest.raises(ValidationError):
            DunningPolicy(retry_delays=bad).full_clean()


@pytest.mark.parametrize(
    ("final_action", "expected"), [("cancel", "canceled"), ("unpaid", "unpaid"), ("past_due", "past_due")]
)
def test_the_final_action_runs_when_the_grace_period_ends(billing, final_action, expected, mailoutbox):
    DunningPolicy.objects.update_or_create(
        pk=1, defaults={"final_action": final_action, "grace_period_days": 2}
    )
    customer = billing.customer(card="4000000000009987")
    with time_machine.travel(T0, tick=False):
        sub = services.subscription_create(customer=customer, plan=PlanFactory(), started_at=T0)
        billing.run(now=T0)
    assert Subscription.objects.get(pk=sub.pk).status == "past_due"

    billing.run(now=T0 + timedelta(days=2) - timedelta(minutes=1))
    assert Subscription.objects.get(pk=sub.pk).status == "past_due"
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        billing.run(now=T0 + timedelta(days=2))
    assert Subscription.objects.get(pk=sub.pk).status == expected
    if expected == "canceled":
        assert mailoutbox[-1].subject == "Your Seller Pro subscription has been canceled"


def test_paying_brings_a_past_due_subscription_back_to_active(billing):
    customer = billing.customer(card="4000000000009995")
    sub = services.subscription_create(customer=customer, plan=PlanFactory())
    billing.run()
    assert Subscription.objects.get(pk=sub.pk).status == "past_due"
    billing.add_card(customer, "4242424242424242")
    assert Subscription.objects.get(pk=sub.pk).status == "active"


def test_the_final_notice_says_what_happens_to_the_card_and_the_next_invoice_does_it(billing, mailoutbox):
    """Retries used up on a subscription invoice: the card is not tried again for that
    invoice, and, as the email says, the next period's invoice is charged to it."""
    DunningPolicy.objects.update_or_create(pk=1, defaults={"final_action": "past_due", "retry_delays": "1"})
    customer = billing.customer(card="4000000000009995")
    with time_machine.travel(T0, tick=False):
        sub = services.subscription_create(customer=customer, plan=PlanFactory(), started_at=T0)
        billing.run(now=T0)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        billing.run(now=T0 + timedelta(days=1))

    final = mailoutbox[-1]
    assert final.subject.startswith("Final notice:")
    assert "We will not try that card again for this invoice." in final.body
    assert "your next invoices will still be charged to Visa •••• 9995" in final.body
    first = sub.invoices.get()
    assert first.status == "process_failed"
    assert PaymentMethod.objects.get().usable  # a soft decline: the card stays usable

    next_period = T0 + timedelta(days=31)
    with time_machine.travel(next_period, tick=False):
        billing.run(now=next_period)
    second = sub.invoices.exclude(pk=first.pk).get()
    (charge,) = billing.charges(second)
    assert charge.payment_method == PaymentMethod.objects.get() and charge.attempts.count() == 1


def test_a_final_action_that_must_wait_holds_up_neither_other_invoices_nor_the_charging(billing, monkeypatch):
    """A subscription whose grace ended but one of whose charges still waits for Stripe's
    answer cannot be canceled yet: the loop tries it again next run, and meanwhile charges
    everyone else."""
    from billing.models import Attempt, Invoice
    from billing.services import charging

    DunningPolicy.objects.update_or_create(pk=1, defaults={"final_action": "cancel", "grace_period_days": 1})
    customer = billing.customer(card="4000000000009987")  # lost card: fails at once
    with time_machine.travel(T0, tick=False):
        sub = services.subscription_create(customer=customer, plan=PlanFactory(), started_at=T0)
        billing.run(now=T0)
    failed = sub.invoices.get()
    assert failed.status == "process_failed"
    later = T0 + timedelta(days=2)
    # A charge of the subscription's other invoice was sent to Stripe; its answer is not back.
    other_period = Invoice.objects.create(
        customer=customer, currency="USD", total_amount=2900, subscription=sub
    )
    waiting = Transaction.objects.create(
        invoice=other_period,
        kind="charge",
        amount=2900,
        currency="USD",
        payment_method=PaymentMethod.objects.get(),
    )
    Attempt.objects.create(transaction=waiting, number=1, idempotency_key="test:waiting", started_at=later)
    # Someone else's invoice is due in the same run.
    monkeypatch.setattr(charging, "attempt_soon", lambda txn_id: None)
    other = billing.invoice(billing.customer(card="4242424242424242"))
    Transaction.objects.filter(invoice=other).update(next_attempt_at=later)
    assert billing.fresh(other).status == "processing"

    with time_machine.travel(later, tick=False):
        report = services.transactions_process_due(now=later)

    assert Subscription.objects.get(pk=sub.pk).status != "canceled"  # tried again next run
    assert Invoice.objects.get(pk=failed.pk).final_action_taken_at is None
    assert billing.fresh(other).status == "settled"
    assert report.final_actions == 0
