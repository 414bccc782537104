"""Billing's dates for people are days in the platform timezone, not UTC."""

from datetime import UTC, datetime

import pytest
import time_machine

from billing.models import Attempt
from finance.models import PayoutCycleSettings

pytestmark = pytest.mark.django_db


def test_the_next_try_of_a_declined_charge_is_dated_in_the_platform_timezone(billing):
    config = PayoutCycleSettings.load()
    config.timezone = "Pacific/Auckland"
    config.save()
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tick=False):
        invoice = billing.invoice(billing.customer(card="4000000000009995"))
    decision = Attempt.objects.get(transaction__invoice=invoice).decision
    # 1 day later is 12:00 UTC on 2 March: already 3 March in Auckland.
    assert decision == "soft: the card has insufficient funds, next try on 3 Mar 2026"
