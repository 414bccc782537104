"""A paid line always points at its payout. The database no longer checks that row by row
(a payout run sets it on millions of lines); a payout that still holds lines cannot be
deleted, the run only ever points lines at payouts it just made, and `ledger_check`
names any line whose payout is missing."""

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction

from payouts.ledger import ledger_check
from payouts.models import Earning, Payout

from .conftest import utc

pytestmark = pytest.mark.django_db


def _paid(payouts) -> Payout:
    order = payouts.complete(at=utc(2027, 1, 2, 10))
    payouts.run(date(2027, 1, 15))
    return Earning.objects.get(order=order).payout


@pytest.mark.postgres
def test_a_payout_that_still_holds_lines_cannot_be_deleted(payouts):
    payout = _paid(payouts)
    with pytest.raises(IntegrityError, match=f"payout {payout.pk} still holds earnings"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM payouts_payout WHERE id = %s", [payout.pk])
    assert Earning.objects.get(payout=payout).amount == payout.amount


def test_the_ledger_check_names_a_line_whose_payout_is_missing(payouts):
    payout = _paid(payouts)
    line = Earning.objects.get(payout=payout)
    assert ledger_check() == []
    missing = Payout.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    Earning.objects.filter(pk=line.pk).update(payout_id=missing)
    problems = [str(p) for p in ledger_check() if p.what == "earning belongs to a payout that does not exist"]
    assert problems == [f"earning belongs to a payout that does not exist: earning #{line.pk} belongs to "
                        f"payout #{missing}, which is not there"]  # fmt: skip


def test_a_payout_a_refund_took_under_the_minimum_while_the_run_built_it_gives_its_lines_back(
    payouts, monkeypatch
):
    """The payout had taken a line; it is given back before the payout is deleted, so the
    database lets it go (on PostgreSQL a payout still holding lines cannot be deleted)."""
    from django.utils import timezone

    from payouts import services

    payouts.configure(minimum_payout_amount=15_000)
    kept, short = payouts.seller(), payouts.seller()
    for seller in (kept, short):
        for _ in range(2):
            payouts.complete(at=utc(2027, 1, 2, 10), seller=seller)  # 9,000 each after the fee
    refunded = Earning.objects.filter(seller=short).first()
    take_lines = services._take_lines

    def refund_first(**kwargs):  # a refund commits between the sums and the update
        Earning.objects.filter(pk=refunded.pk).update(reversed_at=timezone.now())
        return take_lines(**kwargs)

    monkeypatch.setattr(services, "_take_lines", refund_first)
    report = payouts.run(date(2027, 1, 15))
    assert report.payouts == 1
    assert [(p.seller_id, p.amount) for p in payouts.payouts()] == [(kept.pk, 18_000)]
    assert not Earning.objects.filter(seller=short, payout__isnull=False).exists()
    assert Earning.objects.filter(seller=short, reversed_at__isnull=True, payout__isnull=True).count() == 1
