"""
Demo payouts for `manage.py seed_demo`: how each demo seller gets paid, and the payouts'
side of the payout history that `orders/demo.py` tells (orders completed across several
past dates, each paid on its day, one that failed and went out again on the next date,
and a seller whose refund after payout left a negative balance).

The sellers' payout settings, each through the services a seller's clicks call:
Sam and Sofia are paid by bank transfer (a German IBAN, a US routing and account number),
Stella onboarded with Stripe Connect, Hal stopped halfway through Stripe's onboarding
(the ID document still due), and Cora changed her bank details today, so her payouts wait
for the cooling-off period. The platform offers both ways.

payouts imports nothing from orders: orders hands its completed orders to payouts, so
the story that needs both is driven from `orders/demo.py` with the pieces below.
"""

import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from finance.models import PayoutCycleSettings
from finance.services import payout_settings_update

from . import payout_accounts, services
from .models import Earning, Payout, PayoutAccount
from .schedule import available_on, schedule_for

BANK_DETAILS = {
    0: {"scheme": "iban", "holder_name": "Sam Seller", "iban": "DE89 3704 0044 0532 0130 00"},
    1: {
        "scheme": "us_aba",
        "holder_name": "Sofia Second-Seller",
        "routing_number": "011000015",
        "account_number": "000123456789",
    },
    4: {"scheme": "iban", "holder_name": "Cora Cooling-Off", "iban": "FR14 2004 1010 0505 0001 3M02 606"},
}
# Cora's new details: entered today, so payouts wait for the cooling-off period.
CORA_NEW_DETAILS = {
    "scheme": "iban",
    "holder_name": "Cora Cooling-Off",
    "iban": "GB29 NWBK 6016 1331 9268 19",
}
DEMO_PASSWORD = "demo-seller-2026"


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


def onboarding_page_answer(link_url: str, action: str) -> str:
    """Press a button of the local Stripe server's onboarding page, as a seller would in
    the browser: "complete", "partial" (the ID document left due) or "back". Returns where
    the page sends the browser. Only the local Stripe server has this page."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    urllib.request.urlopen(link_url, timeout=10).read()
    request = urllib.request.Request(link_url, data=urllib.parse.urlencode({"action": action}).encode())
    try:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as answer:
        if answer.code in (302, 303):
            return answer.headers["Location"]
        raise
    raise RuntimeError("the onboarding page did not send the browser anywhere")


def _stripe_onboard(seller, *, action: str) -> None:
    account = PayoutAccount.objects.filter(seller=seller).first()
    if account is not None and account.stripe_account_id:
        return
    url = payout_accounts.payout_account_stripe_onboarding_start(seller=seller, password=DEMO_PASSWORD)
    onboarding_page_answer(url, action)
    payout_accounts.payout_account_stripe_sync(
        stripe_account_id=PayoutAccount.objects.get(seller=seller).stripe_account_id
    )


def payout_accounts_seed(*, people) -> None:
    """How each demo seller is paid (see the module's docstring). Sellers who already
    have an account are left as they are, so seeding twice changes nothing."""
    config = PayoutCycleSettings.load()
    if config.provider != PayoutCycleSettings.ProvidersOffered.EITHER:
        config.provider = PayoutCycleSettings.ProvidersOffered.EITHER
        payout_settings_update(edited=config, by=people.admin)
    for index, details in BANK_DETAILS.items():
        seller = people.sellers[index]
        if not PayoutAccount.objects.filter(seller=seller).exclude(provider="").exists():
            payout_accounts.payout_account_bank_details_set(
                seller=seller, password=DEMO_PASSWORD, details=details
            )
            if index == 4:
                # An earlier change, long past its cooling-off, then today's.
                PayoutAccount.objects.filter(seller=seller).update(
                    details_changed_at=timezone.now() - timedelta(days=90)
                )
                payout_accounts.payout_account_bank_details_set(
                    seller=seller, password=DEMO_PASSWORD, details=CORA_NEW_DETAILS
                )
    _stripe_onboard(people.sellers[2], action="complete")
    _stripe_onboard(people.sellers[3], action="partial")


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
    """The runs for three past payout dates, each done on its day: the first paid; on the
    second Sam's payout fails (the bank returned it two days later) and Sofia's is paid;
    the third sends Sam's money again, paid. Returns the first run's report."""
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
    for payout in Payout.objects.filter(payout_date=past[2], status=Payout.Status.SCHEDULED):
        services.payout_mark_paid(
            payout_id=payout.pk, by=people.admin, reference=f"BANK-{past[2]:%Y%m%d}-{payout.pk}"
        )
    _history_retime(past)
    return first


def _history_retime(past: list[date]) -> None:
    """Date the demo's past runs on their own days, as staff would have done them: built
    at 06:00, sent at 09:00, paid at 11:00 the same day, a bank's return two days later.
    Only dates change."""
    from django.contrib.contenttypes.models import ContentType
    from django_fsm_log.models import StateLog

    from .models import PayoutRun

    config = PayoutCycleSettings.load()
    for day in past:

        def at(hour, days=0, day=day):
            return datetime.combine(day + timedelta(days=days), time(hour), tzinfo=config.tz)

        PayoutRun.objects.filter(payout_date=day).update(started_at=at(6), finished_at=at(6))
        for payout in Payout.objects.filter(payout_date=day):
            moments = {"submit": at(9), "mark_paid": at(11), "fail": at(10, 2), "cancel": at(10, 2)}
            dates = {"created_at": at(6)}
            for field, moment in (
                ("submitted_at", at(9)),
                ("exported_at", at(9)),
                ("transfer_sent_at", at(9)),
                ("paid_at", at(11)),
                ("failed_at", at(10, 2)),
            ):
                if getattr(payout, field):
                    dates[field] = moment
            Payout.objects.filter(pk=payout.pk).update(**dates)
            for log in StateLog.objects.filter(
                content_type=ContentType.objects.get_for_model(Payout), object_id=payout.pk
            ):
                if log.transition in moments:
                    StateLog.objects.filter(pk=log.pk).update(timestamp=moments[log.transition])


def seed(*, people, stdout):
    """Runs after `orders/demo.py` (INSTALLED_APPS order), which already made the payout
    history; this only makes sure every demo seller's payout settings exist."""
    payout_accounts_seed(people=people)
    stdout.write(
        "Payout settings: Sam and Sofia by bank transfer, Stella onboarded with Stripe, Hal halfway through "
        "Stripe's onboarding, Cora's new bank details in their cooling-off period."
    )
