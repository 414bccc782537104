"""
Payout services (DESIGN.md section 3.3).

The order side hands completed and refunded orders over through the first two functions,
inside the transaction that changes the order, so an order's status and its seller's
money can never disagree. Payout runs are set-based: a run works through sellers in
chunks, each chunk one transaction of a few statements, never a Python loop per order.
"""

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import stripe
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone
from django_fsm import can_proceed

from accounts.models import User
from finance.models import PayoutCycleSettings
from marketplace.exceptions import ApplicationError
from marketplace.fsm import transition_custom
from marketplace.money import amount_plain
from marketplace.outbox import outbox_task
from stripe_integration import connect
from stripe_integration.client import GatewayUnavailable

from . import ledger
from .emails import payout_email_send
from .models import Earning, Journal, Payout, PayoutAccount, PayoutRun
from .schedule import available_on as compute_available_on
from .schedule import schedule_for

logger = logging.getLogger(__name__)

# How far back the hourly task catches up payout dates missed while nothing ran.
CATCH_UP_DAYS = 62


def fee_for(gross_amount: int, fee_bps: int) -> int:
    """The platform fee: gross × bps / 10,000, rounded half up to the minor unit, in
    integers only (1,005 cents at 250 bps = 25.125 -> 25; 1,010 at 250 = 25.25 -> 25;
    1,020 at 250 = 25.5 -> 26)."""
    return (gross_amount * fee_bps + 5_000) // 10_000


# --- earnings: the seams the orders app calls -------------------------------------------------


def earning_create_for_completed_order(*, order) -> Earning:
    """Record what the seller earns for a completed order: gross minus fee, available on
    the completion date in the platform timezone + N, with N frozen on the earning. Called
    inside the order's transaction; a second call for the same order changes nothing."""
    existing = Earning.objects.filter(order=order, kind=Earning.Kind.SALE).first()
    if existing is not None:
        return existing
    config = PayoutCycleSettings.load()
    fee = fee_for(order.total_amount, config.platform_fee_bps)
    earning = Earning.objects.create(
        kind=Earning.Kind.SALE,
        order=order,
        seller_id=order.seller_id,
        currency=order.currency,
        gross_amount=order.total_amount,
        fee_amount=fee,
        fee_bps=config.platform_fee_bps,
        amount=order.total_amount - fee,
        delay_days=config.delay_days,
        completed_at=order.completed_at,
        available_on=compute_available_on(
            completed_at=order.completed_at, timezone_name=config.timezone, delay_days=config.delay_days
        ),
        description=f"Order #{order.pk}",
    )
    ledger.journals_post(
        [ledger.earning_postings(earning, Journal.Kind.EARNING, f"Order #{order.pk} completed")]
    )
    return earning


def earning_reverse_for_refunded_order(*, order) -> Earning | None:
    """A refund takes the seller's earning back. Before payout the sale is reversed and
    never paid; once a payout has taken it, a negative line (a clawback) is added, which
    the next payouts net off. Called inside the order's transaction."""
    sale = Earning.objects.select_for_update().filter(order=order, kind=Earning.Kind.SALE).first()
    if sale is None or sale.reversed_at is not None:
        return None  # refunded before it completed, or already taken back
    if Earning.objects.filter(order=order, kind=Earning.Kind.CLAWBACK).exists():
        return None
    reason = (order.refund_reason or "").strip()
    if sale.payout_id is None:
        Earning.objects.filter(pk=sale.pk).update(reversed_at=timezone.now())
        ledger.journals_post(
            [
                ledger.earning_postings(
                    sale, Journal.Kind.REFUND_REVERSAL, f"Order #{order.pk} refunded before payout"
                )
            ]
        )
        return sale
    config = PayoutCycleSettings.load()
    payout = sale.payout
    clawback = Earning.objects.create(
        kind=Earning.Kind.CLAWBACK,
        order=order,
        seller_id=sale.seller_id,
        currency=sale.currency,
        gross_amount=sale.gross_amount,
        fee_amount=sale.fee_amount,
        fee_bps=sale.fee_bps,
        amount=-sale.amount,
        delay_days=0,
        completed_at=timezone.now(),
        available_on=config.today(),
        description=(
            f"Refund of order #{order.pk}, already in payout #{payout.pk} of {payout.payout_date:%-d %b %Y}"
            + (f": {reason}" if reason else "")
        )[:400],
    )
    ledger.journals_post(
        [ledger.earning_postings(clawback, Journal.Kind.CLAWBACK, f"Order #{order.pk} refunded after payout")]
    )
    return clawback


# --- payout runs -----------------------------------------------------------------------------


@dataclass
class RunReport:
    payout_date: date
    dry_run: bool = False
    paused: bool = False
    already_done: bool = False
    payouts: int = 0
    lines: int = 0
    amounts: dict = field(default_factory=lambda: defaultdict(int))
    below_minimum: int = 0
    on_hold: int = 0
    not_positive: int = 0


def _unpaid(payout_date: date):
    return Earning.objects.filter(
        payout__isnull=True, reversed_at__isnull=True, available_on__lte=payout_date
    )


def _classify(rows, *, held: set, minimum: Callable[[str], int], report: RunReport) -> list[dict]:
    """Which (seller, currency) totals become payouts; `minimum(currency)` is that
    currency's minimum payout in its minor units."""
    chosen = []
    for row in rows:
        if row["seller_id"] in held:
            report.on_hold += 1
        elif row["total"] <= 0:
            report.not_positive += 1  # a clawback larger than what is owed: carried forward
        elif row["total"] < minimum(row["currency"]):
            report.below_minimum += 1
        else:
            chosen.append(row)
    return chosen


def _seller_range_end(cursor: int, chunk_size: int) -> int | None:
    ids = list(
        User.objects.filter(pk__gt=cursor)
        .order_by("pk")
        .values_list("pk", flat=True)[chunk_size - 1 : chunk_size]
    )
    if ids:
        return ids[0]
    return User.objects.filter(pk__gt=cursor).order_by("-pk").values_list("pk", flat=True).first()


def payout_run_dry(*, payout_date: date) -> RunReport:
    """What a run for this date would build now, without writing anything."""
    config = PayoutCycleSettings.load()
    report = RunReport(payout_date=payout_date, dry_run=True, paused=config.payouts_paused)
    done = PayoutRun.objects.filter(payout_date=payout_date, status=PayoutRun.Status.DONE).exists()
    report.already_done = done
    if config.payouts_paused or done:
        return report
    rows = (
        _unpaid(payout_date)
        .values("seller_id", "currency")
        .annotate(total=Sum("amount"), n=Sum(1))
        .order_by()
    )
    held = set(PayoutAccount.objects.filter(on_hold=True).values_list("seller_id", flat=True))
    for row in _classify(rows, held=held, minimum=config.minimum_payout_for, report=report):
        report.payouts += 1
        report.lines += row["n"]
        report.amounts[row["currency"]] += row["total"]
    return report


def payout_run_create(*, payout_date: date, chunk_size: int = 2_000, progress=None) -> RunReport:
    """Build the payouts due on `payout_date`: one per seller and currency, from every
    unpaid line available on or before that date, skipping sellers on hold, totals that
    are not positive (a clawback still being netted off) and totals under the minimum.

    Idempotent and safe to run twice at once: the run row is unique per date, and each
    chunk of sellers is taken by moving the run's cursor under a row lock, so a second
    process shares the remaining chunks instead of repeating them. The unique key per
    seller, currency and date stands behind that."""
    config = PayoutCycleSettings.load()
    report = RunReport(payout_date=payout_date, paused=config.payouts_paused)
    try:
        run, _ = PayoutRun.objects.get_or_create(payout_date=payout_date)
    except IntegrityError:  # created by a run that started at the same moment
        run = PayoutRun.objects.get(payout_date=payout_date)
    if run.status == PayoutRun.Status.DONE:
        report.already_done = True
        return report
    if config.payouts_paused:
        PayoutRun.objects.filter(pk=run.pk, status=PayoutRun.Status.RUNNING).update(
            status=PayoutRun.Status.DONE, paused=True, finished_at=timezone.now()
        )
        return report
    last_user = User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    while True:
        with transaction.atomic():
            run = PayoutRun.objects.select_for_update().get(pk=run.pk)
            if run.status == PayoutRun.Status.DONE:
                break
            end = _seller_range_end(run.cursor_seller_id, chunk_size)
            if end is None:
                run.status = PayoutRun.Status.DONE
                run.finished_at = timezone.now()
                run.save(update_fields=["status", "finished_at"])
                break
            _run_chunk(run=run, config=config, low=run.cursor_seller_id, high=end, report=report)
            run.cursor_seller_id = end
            run.save()
        if progress:
            progress(min(end, last_user), last_user)
    _submit_later(payout_date)
    return report


def _run_chunk(
    *, run: PayoutRun, config: PayoutCycleSettings, low: int, high: int, report: RunReport
) -> None:
    D = run.payout_date
    in_range = _unpaid(D).filter(seller_id__gt=low, seller_id__lte=high)
    rows = in_range.values("seller_id", "currency").annotate(total=Sum("amount")).order_by()
    held = set(
        PayoutAccount.objects.filter(on_hold=True, seller_id__gt=low, seller_id__lte=high).values_list(
            "seller_id", flat=True
        )
    )
    chunk_report = RunReport(payout_date=D)
    chosen = _classify(rows, held=held, minimum=config.minimum_payout_for, report=chunk_report)
    if chosen:
        Payout.objects.bulk_create(
            [
                Payout(
                    seller_id=row["seller_id"],
                    currency=row["currency"],
                    payout_date=D,
                    amount=row["total"],
                    run=run,
                    provider=config.provider,
                    # One payout per seller, currency and date (a unique key), so this
                    # key names exactly one transfer, however often it is resent.
                    idempotency_key=(
                        f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:payout-{row['seller_id']}-{row['currency']}-{D}"
                    ),
                    transfer_group=f"payout-{D:%Y-%m-%d}-{row['seller_id']}",
                )
                for row in chosen
            ],
            batch_size=2_000,
        )
        mine = Payout.objects.filter(run=run, seller_id__gt=low, seller_id__lte=high)
        lines = _take_lines(run=run, low=low, high=high)
        # Payouts left with no line, or under the minimum (refunds that committed between
        # the sums and the update), are not made; their lines stay unpaid.
        short = mine.filter(
            _under_minimum(config) | ~Exists(Earning.objects.filter(payout_id=OuterRef("pk")))
        )
        if short.exists():
            Earning.objects.filter(payout__in=short).update(payout=None)
            short.delete()
        payouts = list(mine.only("pk", "seller_id", "currency", "amount", "payout_date", "paid_at"))
        ledger.journals_post(ledger.payout_postings(payouts, Journal.Kind.PAYOUT))
        report.payouts += len(payouts)
        report.lines += lines
        for p in payouts:
            report.amounts[p.currency] += p.amount
        run.payouts_created += len(payouts)
        run.lines_paid += lines
    for name in ("below_minimum", "on_hold", "not_positive"):
        setattr(report, name, getattr(report, name) + getattr(chunk_report, name))
        setattr(run, name, getattr(run, name) + getattr(chunk_report, name))


def _under_minimum(config: PayoutCycleSettings) -> Q:
    """Payouts under their currency's minimum (at least 1: an empty payout is never made)."""
    overrides = config.minimum_payout_by_currency
    under = Q(amount__lt=max(config.minimum_payout_amount, 1))
    if overrides:
        under &= ~Q(currency__in=list(overrides))
    for currency, minimum in overrides.items():
        under |= Q(currency=currency, amount__lt=max(minimum, 1))
    return under


def _take_lines(*, run: PayoutRun, low: int, high: int) -> int:
    """Give every unpaid line available by the date, of the sellers in (low, high], to its
    payout, then set each payout's amount to the lines it actually took. Two statements
    (UPDATE … FROM, which PostgreSQL and SQLite 3.33+ both run); returns the lines taken."""
    e, p = Earning._meta.db_table, Payout._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {e} SET payout_id = p.id
            FROM {p} p
            WHERE p.run_id = %s AND p.seller_id = {e}.seller_id AND p.currency = {e}.currency
              AND {e}.seller_id > %s AND {e}.seller_id <= %s
              AND {e}.payout_id IS NULL AND {e}.reversed_at IS NULL AND {e}.available_on <= %s
            """,
            [run.pk, low, high, run.payout_date],
        )
        taken = cursor.rowcount
        cursor.execute(
            f"""
            UPDATE {p} SET amount = s.total
            FROM (
                SELECT payout_id, SUM(amount) AS total FROM {e}
                WHERE payout_id IN (SELECT id FROM {p} WHERE run_id = %s AND seller_id > %s AND seller_id <= %s)
                GROUP BY payout_id
            ) s
            WHERE {p}.id = s.payout_id AND {p}.amount <> s.total
            """,
            [run.pk, low, high],
        )
    return taken


def payout_dates_due(*, now=None) -> list[date]:
    """Payout dates up to today (platform timezone) with no finished run, oldest first:
    today's, and any missed while nothing ran (up to CATCH_UP_DAYS back)."""
    config = PayoutCycleSettings.load()
    today = config.today(now)
    last = PayoutRun.objects.filter(status=PayoutRun.Status.DONE).order_by("-payout_date").first()
    first = (
        today
        if last is None
        else max(last.payout_date + timedelta(days=1), today - timedelta(days=CATCH_UP_DAYS))
    )
    unfinished = PayoutRun.objects.filter(status=PayoutRun.Status.RUNNING, payout_date__lte=today)
    dates = set(schedule_for(config).payout_dates_between(first=first, last=today))
    dates |= set(unfinished.values_list("payout_date", flat=True))
    return sorted(dates)


def payout_runs_due(*, now=None) -> list[RunReport]:
    """What beat runs every hour: every due payout date's run, catching up missed ones."""
    return [payout_run_create(payout_date=d) for d in payout_dates_due(now=now)]


# --- submitting, paying, failing ---------------------------------------------------------------


def _submit_later(payout_date: date) -> None:
    """With Stripe Connect, submit the date's transfers after commit (an outbox row, in
    the caller's transaction if there is one)."""
    if PayoutCycleSettings.load().provider == PayoutCycleSettings.Provider.STRIPE_CONNECT:
        outbox_task(task="payouts.submit", kwargs={"payout_date": payout_date.isoformat()})


def _locked(payout_id: int) -> Payout:
    return Payout.objects.select_for_update().select_related("seller").get(pk=payout_id)


def _transition(payout: Payout, name: str, **kwargs) -> None:
    method = getattr(payout, name)
    if not can_proceed(method):
        raise ApplicationError(
            f"Payout #{payout.pk} is {payout.get_status_display().lower()}: "
            f"it cannot be {transition_custom(Payout)[name]['past']}."
        )
    method(**kwargs)
    payout.save()


def _email_later(kind: str, payout_id: int) -> None:
    """Render the payout email now and queue it in this transaction; sent after commit."""
    payout_email_send(kind=kind, payout_id=payout_id)


def payouts_export_csv(*, payout_ids: list[int], by) -> str:
    """The manual provider: a CSV for the bank of the chosen payouts that are scheduled or
    already sent. Scheduled ones become `processing` (handed to the bank)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["payout_id", "payout_date", "seller_email", "seller_name", "bank_reference", "currency", "amount"]
    )
    with transaction.atomic():
        payouts = list(
            Payout.objects.select_for_update()
            .filter(pk__in=payout_ids, status__in=[Payout.Status.SCHEDULED, Payout.Status.PROCESSING])
            .select_related("seller")
            .order_by("pk")
        )
        accounts = {
            a.seller_id: a for a in PayoutAccount.objects.filter(seller__in=[p.seller_id for p in payouts])
        }
        for p in payouts:
            if p.status == Payout.Status.SCHEDULED:
                _transition(p, "submit", by=by, description="Exported to the bank file")
            account = accounts.get(p.seller_id)
            writer.writerow(
                [
                    p.pk,
                    p.payout_date.isoformat(),
                    p.seller.email,
                    p.seller.full_name,
                    account.bank_reference if account else "",
                    p.currency,
                    amount_plain(p.amount, p.currency),
                ]
            )
    return out.getvalue()


def payout_mark_paid(*, payout_id: int, by=None, reference: str = "") -> Payout:
    """The money reached the seller (the bank confirmed it, or Stripe made the transfer)."""
    with transaction.atomic():
        payout = _locked(payout_id)
        if payout.status == Payout.Status.SCHEDULED:
            _transition(payout, "submit", by=by, description="Sent")
        _transition(payout, "mark_paid", by=by, reference=reference)
        ledger.journals_post(ledger.payout_postings([payout], Journal.Kind.PAYOUT_PAID))
        _email_later("payout_sent", payout.pk)
    return payout


def payout_mark_failed(*, payout_id: int, reason: str, by=None) -> Payout:
    """The money did not reach the seller. It goes back to their balance, the seller is
    emailed, and it goes out again on the next payout date."""
    if not reason.strip():
        raise ApplicationError("Give a reason: the seller sees it.")
    with transaction.atomic():
        payout = _locked(payout_id)
        if payout.status == Payout.Status.SCHEDULED:
            _transition(payout, "submit", by=by, description="Sent")
        _transition(payout, "fail", by=by, description=reason.strip())
        _return_funds(payout)
        _email_later("payout_failed", payout.pk)
    return payout


def payout_cancel(*, payout_id: int, reason: str, by=None) -> Payout:
    """Stop a payout before it is sent; its money stays in the seller's balance."""
    if not reason.strip():
        raise ApplicationError("Give a reason: it goes on the payout's history.")
    with transaction.atomic():
        payout = _locked(payout_id)
        _transition(payout, "cancel", by=by, description=reason.strip())
        _return_funds(payout)
    return payout


def _return_funds(payout: Payout) -> None:
    Earning.objects.filter(payout=payout).update(payout=None)
    ledger.journals_post(ledger.payout_postings([payout], Journal.Kind.PAYOUT_RETURNED))


def payout_submit_to_stripe(*, payout_id: int) -> Payout:
    """Stripe Connect: one transfer per payout, to the seller's connected account, with the
    payout's idempotency key (so a resend after a crash cannot pay twice) and its transfer
    group. Stripe answering with an error fails the payout; Stripe not answering leaves it
    processing, to be sent again with the same key."""
    with transaction.atomic():
        payout = _locked(payout_id)
        if payout.status == Payout.Status.SCHEDULED:
            _transition(payout, "submit", description="Sent to Stripe")
        elif payout.status != Payout.Status.PROCESSING or payout.provider_reference:
            return payout
    account = PayoutAccount.objects.filter(seller_id=payout.seller_id).first()
    if account is None or not account.stripe_account_id:
        return payout_mark_failed(
            payout_id=payout.pk, reason="The seller has not connected a Stripe account to be paid into."
        )
    try:
        transfer = connect.transfer_create(
            destination=account.stripe_account_id,
            amount=payout.amount,
            currency=payout.currency,
            transfer_group=payout.transfer_group,
            idempotency_key=payout.idempotency_key,
            metadata={"payout_id": str(payout.pk), "payout_date": payout.payout_date.isoformat()},
        )
    except GatewayUnavailable:
        logger.warning(
            "Stripe did not answer for payout #%s; it will be sent again with the same key", payout.pk
        )
        return payout
    except stripe.StripeError as exc:
        return payout_mark_failed(
            payout_id=payout.pk, reason=f"Stripe refused the transfer: {exc.user_message or exc}"
        )
    return payout_mark_paid(payout_id=payout.pk, reference=transfer["id"])


def payouts_submit(*, payout_date: date | None = None) -> int:
    """Send every scheduled (or unanswered processing) Stripe Connect payout."""
    pending = Payout.objects.filter(
        provider=PayoutCycleSettings.Provider.STRIPE_CONNECT,
        status__in=[Payout.Status.SCHEDULED, Payout.Status.PROCESSING],
        provider_reference="",
    )
    if payout_date:
        pending = pending.filter(payout_date=payout_date)
    count = 0
    for payout_id in pending.order_by("pk").values_list("pk", flat=True).iterator():
        payout_submit_to_stripe(payout_id=payout_id)
        count += 1
    return count


def payout_transfer_reversed(*, transfer_id: str, reason: str) -> Payout | None:
    """A webhook said Stripe reversed (or failed) a transfer: the payout failed."""
    payout = Payout.objects.filter(provider_reference=transfer_id).first()
    if payout is None or payout.status == Payout.Status.FAILED:
        return payout
    return payout_mark_failed(payout_id=payout.pk, reason=reason)
