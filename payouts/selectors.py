"""Reads: the payout preview (the command's and the settings page's) and what a seller
sees on their payouts page."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Sum
from django.utils import timezone

from finance.models import PayoutCycleSettings
from marketplace.platform_time import date_text

from .models import Earning, Payout, PayoutAccount, PayoutRun
from .payability import Block, account_payability
from .schedule import available_on as compute_available_on
from .schedule import schedule_for


def _first_open_date(config: PayoutCycleSettings, on_or_after: date) -> date:
    """The first payout date on or after a day whose run has not happened yet: money that
    becomes available on a payout date after that date's run waits for the next one."""
    schedule = schedule_for(config)
    day = schedule.next_payout_date(on_or_after)
    done = set(
        PayoutRun.objects.filter(payout_date__gte=day, status=PayoutRun.Status.DONE).values_list(
            "payout_date", flat=True
        )[:400]
    )
    while day in done:
        day = schedule.next_payout_date(day + timedelta(days=1))
    return day


def first_open_payout_date(config: PayoutCycleSettings, on_or_after: date) -> date:
    """The first payout date on or after a day whose run has not happened yet."""
    return _first_open_date(config, on_or_after)


def payout_preview(*, completed_at: datetime, config: PayoutCycleSettings | None = None) -> dict:
    """When an order completed at this instant becomes available and is paid, under the
    given (or current) Payout Cycle Settings."""
    config = config or PayoutCycleSettings.load()
    available = compute_available_on(
        completed_at=completed_at, timezone_name=config.timezone, delay_days=config.delay_days
    )
    schedule = schedule_for(config)
    payout_on = _first_open_date(config, available) if config.pk else schedule.next_payout_date(available)
    return {
        "completed_at": completed_at.isoformat(),
        "timezone": config.timezone,
        "completed_on": completed_at.astimezone(config.tz).date().isoformat(),
        "delay_days": config.delay_days,
        "available_on": available.isoformat(),
        "payout_on": payout_on.isoformat(),
        "schedule": schedule.describe(),
    }


def payout_preview_lines(*, config: PayoutCycleSettings, now=None, count: int = 6) -> dict:
    """What the Payout Cycle Settings page shows: where an order completed now lands, and
    the next payout dates, under the given (possibly unsaved) settings."""
    now = now or timezone.now()
    preview = payout_preview(completed_at=now, config=config)
    dates = schedule_for(config).payout_dates(start=config.today(now), count=count)
    return {
        **preview,
        "sentence": (
            f"An order completed now ({_long(preview['completed_on'])}, {config.timezone}) becomes available "
            f"on {_long(preview['available_on'])} and is paid on {_long(preview['payout_on'])}."
        ),
        "next_dates": [d.isoformat() for d in dates],
        "next_dates_text": [date_text(d, weekday=True) for d in dates],
    }


def _long(iso: str) -> str:
    return date_text(date.fromisoformat(iso))


@dataclass
class CurrencyBalance:
    currency: str
    pending: int = 0
    available: int = 0
    next_payout_on: date | None = None
    next_payout_amount: int = 0
    note: str = ""


@dataclass
class SellerPayouts:
    balances: list[CurrencyBalance]
    upcoming: list[dict]
    adjustments: list[Earning]
    history: list[Payout]
    chart: list[dict]
    on_hold: bool = False
    hold_reason: str = ""
    paused: bool = False
    schedule: str = ""
    delay_days: int = 0


def seller_payouts(*, seller, now=None, upcoming_limit: int = 100, history_limit: int = 24) -> SellerPayouts:
    config = PayoutCycleSettings.load()
    today = config.today(now or timezone.now())
    account = PayoutAccount.objects.filter(seller=seller).first()
    unpaid = Earning.objects.filter(seller=seller, payout__isnull=True, reversed_at__isnull=True)
    # Money waits while the seller cannot be paid (payouts.payability): through the
    # cooling-off period, or with no date at all until they finish setting up.
    decision = account_payability(account, payout_date=_first_open_date(config, today), config=config)
    not_before = today
    if decision.block == Block.COOLING_OFF:
        not_before = max(today, decision.cooling_off_through + timedelta(days=1))

    payout_on_cache: dict[date, date] = {}

    def payout_on(day: date) -> date:
        if day not in payout_on_cache:
            payout_on_cache[day] = _first_open_date(config, max(day, not_before))
        return payout_on_cache[day]

    by_date: dict[tuple[str, date], int] = defaultdict(int)
    balances: dict[str, CurrencyBalance] = {}
    for row in unpaid.values("currency", "available_on").annotate(total=Sum("amount")).order_by():
        bal = balances.setdefault(row["currency"], CurrencyBalance(row["currency"]))
        if row["available_on"] > today:
            bal.pending += row["total"]
        else:
            bal.available += row["total"]
        by_date[(row["currency"], payout_on(row["available_on"]))] += row["total"]

    # Amounts roll forward: a date's payout is everything unpaid up to it, when that is
    # positive and reaches its currency's minimum; otherwise it carries to the next date.
    chart = []
    for currency, bal in sorted(balances.items()):
        carried = 0
        for (cur, day), amount in sorted(by_date.items(), key=lambda item: item[0][1]):
            if cur != currency:
                continue
            carried += amount
            if carried > 0 and carried >= config.minimum_payout_for(currency):
                chart.append({"currency": currency, "date": day, "amount": carried})
                if bal.next_payout_on is None:
                    bal.next_payout_on, bal.next_payout_amount = day, carried
                carried = 0
        if bal.next_payout_on is None:
            bal.next_payout_on = payout_on(today)
            bal.note = (
                "Your balance is below zero: refunds after payout are netted off first."
                if bal.pending + bal.available < 0
                else "Below the minimum payout: it carries forward until it reaches it."
            )
    if not decision.payable and decision.block != Block.COOLING_OFF:
        # No payout date can be promised: the chart and "next payout" would mislead.
        chart = []
        for bal in balances.values():
            bal.next_payout_on, bal.next_payout_amount = None, 0
            bal.note = "None until you can be paid: see above."
    peak = max((c["amount"] for c in chart), default=0)
    for c in chart:
        c["percent"] = round(100 * c["amount"] / peak) if peak else 0

    waiting = not decision.payable and decision.block != Block.COOLING_OFF
    rows = [
        {"earning": e, "payout_on": None if waiting else payout_on(e.available_on)}
        for e in unpaid.select_related("order").order_by("available_on", "id")[:upcoming_limit]
    ]
    # A refund after payout is money taken back, not an earning to come: it is listed once,
    # under adjustments, with the payout it is taken from.
    return SellerPayouts(
        balances=sorted(balances.values(), key=lambda b: b.currency),
        upcoming=[row for row in rows if row["earning"].kind != Earning.Kind.CLAWBACK],
        adjustments=[row for row in rows if row["earning"].kind == Earning.Kind.CLAWBACK],
        history=list(Payout.objects.filter(seller=seller).order_by("-payout_date", "-id")[:history_limit]),
        chart=chart[:12],
        on_hold=bool(account and account.on_hold),
        hold_reason=account.hold_reason if account else "",
        paused=config.payouts_paused,
        schedule=schedule_for(config).describe(),
        delay_days=config.delay_days,
    )
