"""Random sequences of completions, refunds, payout runs, payments and failures; after
every step nothing is paid twice, nothing available is left behind, and the ledger holds."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from orders.models import Order
from payouts import services
from payouts.ledger import ledger_check
from payouts.models import Earning, LedgerAccount, Payout

from .conftest import Payouts

pytestmark = pytest.mark.django_db

START = date(2027, 1, 3)


class SellerMoney(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.p = Payouts()
        self.today = START
        self.sellers = []
        self.last_run: date | None = None
        self.run_at: datetime | None = None
        self.clock = datetime.combine(START, datetime.min.time(), UTC)

    @initialize(
        delay=st.integers(0, 10),
        fee_bps=st.sampled_from([0, 250, 1000, 1999]),
        minimum=st.sampled_from([0, 5_000]),
        by_currency=st.sampled_from([{}, {"JPY": 30_000}, {"EUR": 0, "JPY": 500}]),
    )
    def configure(self, delay, fee_bps, minimum, by_currency):
        self.config = self.p.configure(
            delay_days=delay,
            platform_fee_bps=fee_bps,
            schedule="monthly",
            month_days="1, 15",
            minimum_payout_amount=minimum,
            minimum_payout_by_currency=by_currency,
        )
        self.sellers = [self.p.seller() for _ in range(3)]
        self.p.run(date(2027, 1, 1))  # payouts have run before: beat catches up from here

    def _at(self, hour=12) -> datetime:
        """The time of the next step: that hour of the day, but never before the step
        before it (an order completed after a run on the same day is later than the run)."""
        at = datetime.combine(self.today, datetime.min.time(), UTC) + timedelta(hours=hour)
        self.clock = max(at, self.clock + timedelta(minutes=1))
        return self.clock

    @rule(
        seller=st.integers(0, 2),
        amount=st.integers(1, 50_000),
        currency=st.sampled_from(["USD", "EUR", "JPY"]),
    )
    def complete_an_order(self, seller, amount, currency):
        self.p.complete(at=self._at(), seller=self.sellers[seller], amount=amount, currency=currency)

    @precondition(lambda self: Order.objects.filter(status=Order.Status.COMPLETED).exists())
    @rule(pick=st.integers(0, 10_000))
    def refund_an_order(self, pick):
        completed = list(Order.objects.filter(status=Order.Status.COMPLETED).order_by("pk"))
        self.p.refund(completed[pick % len(completed)], at=self._at(13))

    @rule(days=st.integers(1, 12))
    def time_passes(self, days):
        self.today += timedelta(days=days)

    @rule()
    def beat_runs_the_due_payouts(self):
        reports = services.payout_runs_due(now=self._at(14))
        for report in reports:
            self.last_run, self.run_at = report.payout_date, self._at(14)

    @precondition(lambda self: Payout.objects.filter(status=Payout.Status.SCHEDULED).exists())
    @rule(pick=st.integers(0, 10_000))
    def admin_marks_a_payout_paid(self, pick):
        live = list(Payout.objects.filter(status=Payout.Status.SCHEDULED).order_by("pk"))
        services.payout_mark_paid(payout_id=live[pick % len(live)].pk)

    @precondition(lambda self: Payout.objects.filter(status__in=Payout.LIVE_STATUSES).exists())
    @rule(pick=st.integers(0, 10_000))
    def a_payout_fails(self, pick):
        live = list(Payout.objects.filter(status__in=Payout.LIVE_STATUSES).order_by("pk"))
        services.payout_mark_failed(payout_id=live[pick % len(live)].pk, reason="Bank said no")

    # --- what must hold after every step -------------------------------------------------

    @invariant()
    def the_ledger_holds(self):
        assert ledger_check() == []

    @invariant()
    def nothing_is_paid_twice(self):
        # Each sale is in at most one live payout (a single foreign key), each live payout
        # is exactly its lines, and what a seller is owed plus what is on its way or paid
        # equals what they earned minus what was taken back.
        for account in LedgerAccount.objects.filter(kind="seller_balance"):
            lines = Earning.objects.filter(seller=account.seller, currency=account.currency)
            earned = lines.filter(kind="sale", reversed_at__isnull=True).aggregate(s=Sum("amount"))["s"] or 0
            clawed = lines.filter(kind="clawback").aggregate(s=Sum("amount"))["s"] or 0
            sent = (
                Payout.objects.filter(
                    seller=account.seller, currency=account.currency, status__in=Payout.LIVE_STATUSES
                ).aggregate(s=Sum("amount"))["s"]
                or 0
            )
            assert account.balance + sent == earned + clawed

    @invariant()
    def nothing_available_is_left_behind(self):
        if self.last_run is None:
            return
        # Everything that existed when the run happened and was available by its date is
        # in a payout, unless the seller's total there was not positive (a clawback being
        # netted off) or under its currency's minimum, or a failed payout gave lines back
        # after the run.
        left = (
            Earning.objects.filter(
                payout__isnull=True,
                reversed_at__isnull=True,
                available_on__lte=self.last_run,
                created_at__lte=self.run_at,
            )
            .values("seller_id", "currency")
            .annotate(total=Sum("amount"))
        )
        for row in left:
            freed = Payout.objects.filter(
                seller_id=row["seller_id"], currency=row["currency"], status=Payout.Status.FAILED
            ).exists()
            under = row["total"] < self.config.minimum_payout_for(row["currency"])
            assert row["total"] <= 0 or under or freed, row

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)


def test_seller_money_stays_exact_under_random_sequences(db):
    run_state_machine_as_test(
        SellerMoney,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
