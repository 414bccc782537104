"""Rows inserted without a model instance each: ids in order, defaults filled in."""

from datetime import date

import pytest

from accounts.models import User
from marketplace.bulk import insert_returning_ids
from payouts.models import Payout, PayoutRun

pytestmark = pytest.mark.django_db


def test_ids_come_back_in_the_order_of_the_rows_and_missing_columns_get_their_defaults():
    seller = User.objects.create(email="bulk@example.com", role="seller")
    run = PayoutRun.objects.create(payout_date=date(2027, 1, 15))
    rows = [(seller.pk, currency, date(2027, 1, 15), amount, run.pk) for currency, amount in
            [("USD", 300), ("EUR", 100), ("GBP", 200)]]  # fmt: skip
    ids = insert_returning_ids(Payout, ["seller_id", "currency", "payout_date", "amount", "run_id"], rows)
    payouts = Payout.objects.in_bulk(ids)
    assert [(payouts[pk].currency, payouts[pk].amount) for pk in ids] == [
        ("USD", 300),
        ("EUR", 100),
        ("GBP", 200),
    ]
    made = payouts[ids[0]]
    assert (made.status, made.export_count, made.provider_reference) == (Payout.Status.SCHEDULED, 0, "")
    assert made.created_at is not None and made.paid_at is None
    assert insert_returning_ids(Payout, ["seller_id"], []) == []
