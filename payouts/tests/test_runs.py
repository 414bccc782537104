"""Earnings, payout runs, failures and refunds, as sellers and admins see them."""

import csv
import io
from datetime import date

import pytest
from django.core import mail
from django_fsm import TransitionNotAllowed

from accounts.models import User
from marketplace.exceptions import ApplicationError
from marketplace.fsm import transition_custom
from payouts import services
from payouts.ledger import ledger_check
from payouts.models import Earning, LedgerAccount, Payout, PayoutAccount, PayoutRun

from .conftest import utc

pytestmark = pytest.mark.django_db


def seller_balance(seller, currency="USD") -> int:
    account = LedgerAccount.objects.filter(kind="seller_balance", seller=seller, currency=currency).first()
    return account.balance if account else 0


def test_completing_an_order_earns_the_seller_gross_minus_the_fee_available_t_plus_n(payouts):
    payouts.configure(platform_fee_bps=1000, delay_days=7)
    order = payouts.complete(at=utc(2027, 1, 5, 10), amount=12_345)
    earning = Earning.objects.get(order=order)
    assert (earning.gross_amount, earning.fee_amount, earning.amount) == (
        12_345,
        1_235,
        11_110,
    )  # 1234.5 rounds up
    assert earning.available_on == date(2027, 1, 12)
    assert seller_balance(order.seller) == 11_110
    assert ledger_check() == []


def test_fee_rounding_is_half_up_in_integers():
    assert services.fee_for(1_005, 250) == 25  # 25.125
    assert services.fee_for(1_020, 250) == 26  # 25.5
    assert services.fee_for(0, 250) == 0
    assert services.fee_for(999, 10_000) == 999


def test_changing_n_later_does_not_move_orders_already_completed(payouts):
    payouts.configure(delay_days=7)
    order = payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.configure(delay_days=30)
    assert Earning.objects.get(order=order).available_on == date(2027, 1, 12)


def test_the_seed_example_end_to_end_paid_on_jan_15_not_before(payouts):
    order = payouts.complete(at=utc(2027, 1, 5, 10), amount=10_000)
    # Payout dates are the 1st and 15th; a run on Jan 1 has nothing available yet.
    assert payouts.run(date(2027, 1, 1)).payouts == 0
    report = payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    assert (report.payouts, payout.payout_date, payout.amount, payout.seller_id) == (
        1,
        date(2027, 1, 15),
        9_000,
        order.seller_id,
    )
    assert payout.status == Payout.Status.SCHEDULED
    assert seller_balance(order.seller) == 0
    assert ledger_check() == []


def test_running_a_date_twice_pays_nobody_twice(payouts):
    for _ in range(3):
        payouts.complete(at=utc(2027, 1, 2, 10))
    first = payouts.run(date(2027, 1, 15), chunk_size=1)
    again = payouts.run(date(2027, 1, 15))
    assert first.payouts == 3 and again.already_done and again.payouts == 0
    assert Payout.objects.count() == 3
    assert PayoutRun.objects.get(payout_date=date(2027, 1, 15)).payouts_created == 3


def test_one_payout_per_seller_and_currency_from_everything_available(payouts):
    seller = payouts.seller()
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=1_000)
    payouts.complete(at=utc(2027, 1, 8, 10), seller=seller, amount=2_000)  # available the 15th itself
    payouts.complete(at=utc(2027, 1, 8, 11), seller=seller, amount=5_000, currency="EUR")
    payouts.complete(at=utc(2027, 1, 9, 10), seller=seller, amount=4_000)  # available the 16th: waits
    payouts.run(date(2027, 1, 15))
    paid = {(p.currency, p.amount) for p in payouts.payouts()}
    assert paid == {("USD", 2_700), ("EUR", 4_500)}
    assert Earning.objects.filter(payout__isnull=True).count() == 1


def test_a_schedule_changed_between_completion_and_payout_uses_the_schedule_in_force(payouts):
    order = payouts.complete(at=utc(2027, 1, 5, 10))  # available Jan 12
    payouts.configure(schedule="weekly", weekdays="2")  # Wednesdays from now on
    assert services.payout_dates_due(now=utc(2027, 1, 13, 0, 30)) == [date(2027, 1, 13)]
    payouts.run(date(2027, 1, 13))
    assert Earning.objects.get(order=order).payout.payout_date == date(2027, 1, 13)


def test_amounts_under_the_minimum_carry_forward(payouts):
    payouts.configure(minimum_payout_amount=5_000)
    seller = payouts.seller()
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=3_000)  # 2,700 net
    assert payouts.run(date(2027, 1, 15)).below_minimum == 1
    payouts.complete(at=utc(2027, 1, 16, 10), seller=seller, amount=3_000)
    payouts.run(date(2027, 2, 1))
    [payout] = payouts.payouts()
    assert (payout.payout_date, payout.amount) == (date(2027, 2, 1), 5_400)


def test_each_currency_carries_forward_under_its_own_minimum_and_pays_once_it_is_lowered(payouts):
    payouts.configure(
        platform_fee_bps=0, minimum_payout_amount=2_500, minimum_payout_by_currency={"JPY": 3_000}
    )
    seller = payouts.seller()
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=2_500, currency="JPY")  # ¥2,500
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=3_000, currency="USD")  # $30.00
    assert services.payout_run_dry(payout_date=date(2027, 1, 15)).below_minimum == 1
    report = payouts.run(date(2027, 1, 15))
    assert (report.payouts, report.below_minimum, dict(report.amounts)) == (1, 1, {"USD": 3_000})
    [usd] = payouts.payouts()
    assert (usd.currency, usd.amount) == ("USD", 3_000)
    assert seller_balance(seller, "JPY") == 2_500

    payouts.configure(minimum_payout_by_currency={"JPY": 2_000})
    payouts.run(date(2027, 2, 1))
    jpy = payouts.payouts(currency="JPY")
    assert [(p.payout_date, p.amount) for p in jpy] == [(date(2027, 2, 1), 2_500)]
    assert seller_balance(seller, "JPY") == 0
    assert ledger_check() == []


def test_a_currency_without_an_override_uses_the_default_minimum(payouts):
    payouts.configure(
        platform_fee_bps=0, minimum_payout_amount=5_000, minimum_payout_by_currency={"EUR": 100}
    )
    seller = payouts.seller()
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=4_000, currency="GBP")
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=4_000, currency="EUR")
    assert payouts.run(date(2027, 1, 15)).below_minimum == 1
    assert [(p.currency, p.amount) for p in payouts.payouts()] == [("EUR", 4_000)]


def test_a_payout_that_a_refund_leaves_under_its_currencys_minimum_is_not_made(payouts, monkeypatch):
    payouts.configure(
        platform_fee_bps=0, minimum_payout_amount=1_000, minimum_payout_by_currency={"JPY": 3_000}
    )
    seller = payouts.seller()
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=2_000, currency="JPY")
    refunded = payouts.complete(at=utc(2027, 1, 1, 11), seller=seller, amount=1_500, currency="JPY")
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=3_000, currency="USD")
    take_lines = services._take_lines

    def refund_commits_between_the_sums_and_the_update(**kwargs):
        Earning.objects.filter(order=refunded).update(reversed_at=utc(2027, 1, 15, 0, 30))
        return take_lines(**kwargs)

    monkeypatch.setattr(services, "_take_lines", refund_commits_between_the_sums_and_the_update)
    payouts.run(date(2027, 1, 15))
    assert [(p.currency, p.amount) for p in payouts.payouts()] == [("USD", 3_000)]
    assert Earning.objects.filter(currency="JPY", payout__isnull=False).count() == 0


def test_a_refund_between_the_sums_and_the_update_leaves_the_payout_what_its_lines_add_up_to(
    payouts, monkeypatch
):
    payouts.configure(platform_fee_bps=0, minimum_payout_amount=1_000)
    seller, alone = payouts.seller(), payouts.seller()
    payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=5_000)
    refunded = payouts.complete(at=utc(2027, 1, 1, 11), seller=seller, amount=2_000)
    only = payouts.complete(at=utc(2027, 1, 1, 12), seller=alone, amount=3_000)
    take_lines = services._take_lines

    def refunds_commit_between_the_sums_and_the_update(**kwargs):
        Earning.objects.filter(order__in=[refunded, only]).update(reversed_at=utc(2027, 1, 15, 0, 30))
        return take_lines(**kwargs)

    monkeypatch.setattr(services, "_take_lines", refunds_commit_between_the_sums_and_the_update)
    report = payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    assert (payout.seller, payout.amount) == (seller, 5_000)
    assert (report.payouts, report.lines, dict(report.amounts)) == (1, 1, {"USD": 5_000})
    assert list(Earning.objects.filter(payout=payout).values_list("amount", flat=True)) == [5_000]
    assert not Earning.objects.filter(seller=alone, payout__isnull=False).exists()


def test_sellers_on_hold_and_a_global_pause_are_skipped_and_paid_later(payouts):
    held, other = payouts.seller(), payouts.seller()
    PayoutAccount.objects.filter(seller=held).update(on_hold=True, hold_reason="Identity check")
    payouts.complete(at=utc(2027, 1, 1, 10), seller=held)
    payouts.complete(at=utc(2027, 1, 1, 10), seller=other)
    report = payouts.run(date(2027, 1, 15))
    assert (report.payouts, report.on_hold) == (1, 1)
    payouts.configure(payouts_paused=True)
    assert payouts.run(date(2027, 2, 1)).paused
    PayoutAccount.objects.filter(seller=held).update(on_hold=False)
    payouts.configure(payouts_paused=False)
    payouts.run(date(2027, 2, 15))
    assert [p.payout_date for p in payouts.payouts(seller=held)] == [date(2027, 2, 15)]


def test_a_refund_before_payout_reverses_the_earning_and_it_is_never_paid(payouts):
    order = payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.refund(order, at=utc(2027, 1, 10))
    assert Earning.objects.get(order=order).reversed_at is not None
    assert payouts.run(date(2027, 1, 15)).payouts == 0
    assert seller_balance(order.seller) == 0
    assert ledger_check() == []


def test_a_refund_after_payout_leaves_a_negative_balance_the_next_payouts_net_off(payouts):
    seller = payouts.seller()
    first = payouts.complete(at=utc(2027, 1, 1, 10), seller=seller, amount=10_000)
    payouts.run(date(2027, 1, 15))
    payouts.refund(first, at=utc(2027, 1, 20), reason="Never arrived")
    assert seller_balance(seller) == -9_000
    clawback = Earning.objects.get(order=first, kind="clawback")
    assert clawback.amount == -9_000 and "Never arrived" in clawback.description
    # Not enough new sales yet: nothing is paid while the balance is below zero.
    payouts.complete(at=utc(2027, 1, 21, 10), seller=seller, amount=5_000)
    assert payouts.run(date(2027, 2, 1)).not_positive == 1
    payouts.complete(at=utc(2027, 2, 1, 10), seller=seller, amount=20_000)
    payouts.run(date(2027, 2, 15))
    latest = payouts.payouts(payout_date=date(2027, 2, 15))[0]
    assert latest.amount == 4_500 + 18_000 - 9_000
    assert seller_balance(seller) == 0
    assert ledger_check() == []


def test_a_failed_payout_returns_the_money_emails_the_seller_and_goes_out_on_the_next_date(
    payouts, admin_user, django_capture_on_commit_callbacks
):
    order = payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.payout_mark_failed(payout_id=payout.pk, by=admin_user, reason="The bank account is closed.")
    assert Payout.objects.get(pk=payout.pk).status == Payout.Status.FAILED
    assert seller_balance(order.seller) == 9_000
    [email] = mail.outbox
    assert "did not go through" in email.subject and "The bank account is closed." in email.body
    assert "1 Feb 2027" in email.body
    payouts.run(date(2027, 2, 1))
    retried = payouts.payouts(payout_date=date(2027, 2, 1))[0]
    assert retried.amount == 9_000
    assert ledger_check() == []


def test_marking_a_payout_paid_emails_the_seller_and_a_paid_payout_cannot_be_canceled(
    payouts, admin_user, django_capture_on_commit_callbacks
):
    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.payout_mark_paid(payout_id=payout.pk, by=admin_user, reference="BANK-42")
    assert "on its way" in mail.outbox[0].subject and "BANK-42" in mail.outbox[0].body
    with pytest.raises(ApplicationError, match="cannot be cancel"):
        services.payout_cancel(payout_id=payout.pk, by=admin_user, reason="oops")
    with pytest.raises(TransitionNotAllowed):
        Payout.objects.get(pk=payout.pk).submit()
    assert ledger_check() == []


def test_the_csv_export_lists_payouts_for_the_bank_and_marks_them_sent(payouts, admin_user):
    order = payouts.complete(at=utc(2027, 1, 5, 10), amount=123_456)
    PayoutAccount.objects.filter(seller=order.seller).update(holder_name="Sam Seller")
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    export = services.payouts_export_csv(payout_ids=[payout.pk], by=admin_user)
    [row] = list(csv.DictReader(io.StringIO(export.csv)))
    assert row == {
        "payout_id": str(payout.pk),
        "payout_date": "2027-01-15",
        "seller_email": order.seller.email,
        "account_holder": "Sam Seller",
        "iban_or_account_number": "DE89370400440532013000",
        "bic_or_routing_number": "COBADEFFXXX",
        "amount": "1111.10",
        "currency": "USD",
        "reference": f"Marketplace payout {payout.pk} of 2027-01-15",
    }
    assert Payout.objects.get(pk=payout.pk).status == Payout.Status.PROCESSING


def test_beat_catches_up_payout_dates_missed_while_nothing_ran(payouts):
    payouts.complete(at=utc(2027, 1, 2, 10))
    payouts.run(date(2027, 1, 1))  # the last run anyone saw
    payouts.complete(at=utc(2027, 1, 20, 10))
    due = services.payout_dates_due(now=utc(2027, 2, 2, 3))
    assert due == [date(2027, 1, 15), date(2027, 2, 1)]
    services.payout_runs_due(now=utc(2027, 2, 2, 3))
    assert [p.payout_date for p in payouts.payouts()] == [date(2027, 1, 15), date(2027, 2, 1)]
    assert services.payout_dates_due(now=utc(2027, 2, 2, 4)) == []


def test_check_ledger_notices_a_tampered_balance(payouts):
    order = payouts.complete(at=utc(2027, 1, 5, 10))
    LedgerAccount.objects.filter(kind="seller_balance", seller=order.seller).update(balance=1)
    problems = [p.what for p in ledger_check()]
    assert "cached balance differs from its entries" in problems


def test_a_refused_payout_change_says_what_cannot_be_done_in_words(payouts, admin_user):
    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    services.payout_cancel(payout_id=payout.pk, by=admin_user, reason="Seller asked to wait")
    with pytest.raises(ApplicationError) as refused:
        services.payout_mark_paid(payout_id=payout.pk, by=admin_user)
    assert str(refused.value) == f"Payout #{payout.pk} is canceled: it cannot be marked as paid."
    with pytest.raises(ApplicationError) as refused:
        services.payout_cancel(payout_id=payout.pk, by=admin_user, reason="Twice")
    assert str(refused.value) == f"Payout #{payout.pk} is canceled: it cannot be canceled."
    assert all(words.get("past") for words in transition_custom(Payout).values())


def test_a_run_is_planned_in_chunks_that_shrink_towards_the_end_and_cover_every_seller_once(payouts):
    """Workers take chunks in order: small last chunks let them finish together instead of
    one building a whole last chunk while the others wait."""
    from accounts.tests.factories import SellerFactory

    SellerFactory.create_batch(40)
    run = services.payout_run_plan(payout_date=date(2027, 1, 15), chunk_size=8)
    chunks = list(run.chunks.order_by("after_seller_id").values_list("after_seller_id", "last_seller_id"))
    user_ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    sizes = [sum(1 for pk in user_ids if low < pk <= high) for low, high in chunks]
    assert sum(sizes) == len(user_ids) and chunks[-1][1] == user_ids[-1]
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))  # no gap, no overlap
    assert sizes[0] == 8 and sizes[-1] < 8 and sizes == sorted(sizes, reverse=True)
    assert min(sizes[:-1]) == 1  # down to an eighth of a chunk (the very last one: what is left)
