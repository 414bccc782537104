"""
Canceling a subscription while the worker records the answer for one of its charges: both
lock the subscription and its invoice, in the same order (marketplace/locking.py), so
they wait for each other instead of deadlocking. Real threads on PostgreSQL.
"""

from functools import partial

import pytest
from django.db import OperationalError
from django.utils import timezone

from billing import gateway
from billing.models import Invoice, PaymentMethod, Subscription, Transaction
from billing.services import charging, subscription_cancel, subscription_create, subscriptions_yield_invoices
from billing.tests.factories import CustomerFactory, PlanFactory
from marketplace.exceptions import ApplicationError
from marketplace.tests.races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_canceling_a_subscription_while_its_charge_is_recorded_never_deadlocks(monkeypatch):
    monkeypatch.setattr(charging, "attempt_soon", lambda txn_id: None)  # the test sends nothing
    plan = PlanFactory()
    for n in range(20):
        customer = CustomerFactory()
        card = PaymentMethod.objects.create(
            customer=customer, stripe_id=f"pm_sub_{n}", brand="visa", last4="4242"
        )
        customer.default_payment_method = card
        customer.save()
        sub = subscription_create(customer=customer, plan=plan, started_at=timezone.now())
        subscriptions_yield_invoices(now=timezone.now())
        txn = Transaction.objects.get(invoice__subscription=sub)
        _, attempt = charging.claim(txn.pk, timezone.now())
        paid = gateway.GatewayResult(ok=True, stripe_id=f"pi_sub_{n}", status="succeeded", http_status=200)

        canceled, recorded = race(
            partial(subscription_cancel, subscription_id=sub.pk, reason="Closing the shop"),
            partial(charging.attempt_record, attempt_id=attempt.pk, result=paid),
        )

        assert not any(isinstance(r, OperationalError) for r in (canceled, recorded)), (canceled, recorded)
        assert recorded == "done"
        assert Invoice.objects.get(subscription=sub).status == Invoice.Status.SETTLED
        # Either the cancel came first and was refused (the charge's answer was still
        # outstanding), or it came second and canceled a subscription with nothing open.
        status = Subscription.objects.get(pk=sub.pk).status
        if isinstance(canceled, ApplicationError):
            assert status == Subscription.Status.ACTIVE
        else:
            assert status == Subscription.Status.CANCELED
