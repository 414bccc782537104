"""
Demo payouts for `manage.py seed_demo`: the sellers' bank references, and the payouts'
side of the payout history that `orders/demo.py` tells (orders completed across several
past dates, a payout already paid, one that failed and went out again, one waiting for
the admin to send, and a seller whose refund after payout left a negative balance).

payouts imports nothing from orders: orders hands its completed orders to payouts, so
the story that needs both is driven from `orders/demo.py` with the pieces below.
"""

from datetime import date, datetime, timedelta

from finance.models import PayoutCycleSettings

from . import services
from .models import Earning, Payout, PayoutAccount
from .schedule import available_on, schedule_for

BANK_REFERENCES = {
    0: "Sam Seller · DE89 3704 0044 0532 0130 00",
    1: "Sofia S. · GB29 NWBK 6016 1331 9268 19",
}


def history_exists(*, people) -> bool:
    return Payout.objects.filter(seller=people.sellers[0]).exists()


def history_dates(*, count: int = 3) -> list[date]:
    """The last `count` payout dates of the past 70 days (fewer if the schedule has fewer)."""
    config = PayoutCycleSettings.load()
    today = config.today()
    past = schedule_for(config).payout_dates_between(
        first=today - timedelta(days=70), last=today - timedelta(days=1)
    )
    return past[-count:]


def payout_accounts_seed(*, people) -> None:
    """Where the two demo sellers are paid (shown in the bank CSV)."""
    for index, reference in BANK_REFERENCES.items():
        PayoutAccount.objects.get_or_create(
            seller=people.sellers[index], defaults={"bank_reference": reference}
        )


def earning_backdate(*, order_id: int, completed_at: datetime) -> None:
    """Move a demo sale's earning to an earlier completion, keeping its frozen N: only
    dates change, never an amount, so the ledger stays exact. The caller moves the order
    in the same transaction."""
    config = PayoutCycleSettings.load()
    earning = Earning.objects.get(order_id=order_id, kind=Earning.Kind.SALE)
    Earning.objects.filter(pk=earning.pk).update(
        completed_at=completed_at,
        available_on=available_on(
            completed_at=completed_at, timezone_name=config.timezone, delay_days=earning.delay_days
        ),
    )


def history_runs_seed(*, people, past: list[date]) -> services.RunReport:
    """The runs for three past payout dates: the first paid; on the second Sam's payout
    fails (the bank returned it) and Sofia's is paid; the third sends Sam's money again and
    waits for the admin. Returns the first run's report."""
    sam, sofia = people.sellers[0], people.sellers[1]
    first = services.payout_run_create(payout_date=past[0])
    for payout in Payout.objects.filter(payout_date=past[0]):
        services.payout_mark_paid(
            payout_id=payout.pk, by=people.admin, reference=f"BANK-{past[0]:%Y%m%d}-{payout.pk}"
        )
    services.payout_run_create(payout_date=past[1])
    services.payout_mark_failed(
        payout_id=Payout.objects.get(payout_date=past[1], seller=sam).pk,
        by=people.admin,
        reason="The bank returned it: the account number does not match the account holder.",
    )
    services.payout_mark_paid(
        payout_id=Payout.objects.get(payout_date=past[1], seller=sofia).pk,
        by=people.admin,
        reference="BANK-SOFIA-1",
    )
    services.payout_run_create(payout_date=past[2])  # Sam's failed money goes out again here
    return first


def seed(*, people, stdout):
    """Runs after `orders/demo.py` (INSTALLED_APPS order), which already made the payout
    history; this only makes sure the sellers' bank references exist."""
    payout_accounts_seed(people=people)
