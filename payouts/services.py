"""
Payout services (DESIGN.md section 3.3).

The order side hands completed and refunded orders over through the first two functions,
inside the transaction that changes the order, so an order's status and its seller's
money can never disagree. Payout runs are set-based: a run works through sellers in
chunks, each chunk one transaction of a few statements, never a Python loop per order.
"""

import csv
import io
import itertools
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import stripe
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django_fsm import can_proceed

from accounts.models import User
from finance.models import PayoutCycleSettings
from marketplace.bulk import insert_returning_ids
from marketplace.exceptions import ApplicationError
from marketplace.fsm import transition_custom
from marketplace.money import amount_plain
from marketplace.outbox import outbox_task
from marketplace.platform_time import date_text, datetime_text, platform_localtime
from stripe_integration import connect
from stripe_integration.client import GatewayUnavailable

from . import ledger
from .bank_details import FORMULA_STARTS
from .emails import payout_email_send
from .models import Earning, Journal, Payout, PayoutAccount, PayoutRun, PayoutRunChunk
from .payability import Payability, sellers_payability
from .schedule import available_on as compute_available_on
from .schedule import schedule_for

logger = logging.getLogger(__name__)

# How far back the hourly task catches up payout dates missed while nothing ran.
CATCH_UP_DAYS = 62

NO_TRANSFER_GROUP = (
    "Payout #{pk} has no transfer group: look it up in the Stripe Dashboard by the metadata payout_id {pk}."
)
CHECK_WITH_STRIPE_FIRST = (
    "Payout #{pk} was sent to Stripe and no transfer id came back: the transfer may exist. "
    "Use “Check with Stripe” first."
)


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
    # Refunds confirmed before completion are not earned.
    gross = order.total_amount - order.amount_refunded
    fee = fee_for(gross, config.platform_fee_bps)
    earning = Earning.objects.create(
        kind=Earning.Kind.SALE,
        order=order,
        seller_id=order.seller_id,
        currency=order.currency,
        gross_amount=gross,
        fee_amount=fee,
        fee_bps=config.platform_fee_bps,
        amount=gross - fee,
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


def fee_share(fee_amount: int, part: int, gross_amount: int) -> int:
    """The platform fee returned with a refund of `part` of `gross_amount`: in proportion,
    rounded half up to the minor unit, in integers only (a fee of 250 on 10,000, refund of
    3,333 → 83.325 → 83)."""
    if gross_amount <= 0:
        return 0
    return (2 * fee_amount * part + gross_amount) // (2 * gross_amount)


def earning_reverse_for_refunded_order(
    *, order, amount: int | None = None, reference: str = "", reason: str = ""
) -> Earning | None:
    """Stripe confirmed a refund of `amount` (None: the whole order) of a completed order:
    the seller's earning shrinks in proportion, and the platform's fee is returned in
    proportion (`fee_share`). A full refund before payout reverses the sale, which is then
    never paid; any other refund adds a negative line (a refund adjustment) that the next
    payouts net off, so after payout the seller's balance goes below zero until they do.
    `reference` (the Stripe refund) makes it happen once per refund. Called inside the
    order's transaction; an order that never completed has no earning and needs nothing."""
    sale = Earning.objects.select_for_update().filter(order=order, kind=Earning.Kind.SALE).first()
    if sale is None or sale.reversed_at is not None:
        return None  # refunded before it completed, or already taken back in full
    adjustments = Earning.objects.filter(order=order, kind=Earning.Kind.CLAWBACK)
    if reference and adjustments.filter(reference=reference).exists():
        return None
    already = sum(line.gross_amount for line in adjustments)
    remaining = sale.gross_amount - already
    amount = remaining if amount is None else min(amount, remaining)
    if amount <= 0:
        return None
    reason = (reason or order.refund_reason or "").strip()
    if sale.payout_id is None and not adjustments.exists() and amount == sale.gross_amount:
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
    fee_back = fee_share(sale.fee_amount, amount, sale.gross_amount)
    where = (
        f", already in payout #{sale.payout_id} of {date_text(sale.payout.payout_date)}"
        if sale.payout_id
        else ""
    )
    adjustment = Earning.objects.create(
        kind=Earning.Kind.CLAWBACK,
        order=order,
        seller_id=sale.seller_id,
        currency=sale.currency,
        gross_amount=amount,
        fee_amount=fee_back,
        fee_bps=sale.fee_bps,
        amount=-(amount - fee_back),
        delay_days=0,
        completed_at=timezone.now(),
        available_on=config.today(),
        reference=reference or f"order-{order.pk}-refund-{adjustments.count() + 1}",
        description=(f"Refund of order #{order.pk}{where}" + (f": {reason}" if reason else ""))[:400],
    )
    ledger.journals_post(
        [ledger.earning_postings(adjustment, Journal.Kind.CLAWBACK, f"Order #{order.pk} refunded ({amount})")]
    )
    return adjustment


def earning_hold_for_dispute(*, order, amount: int, reference: str) -> Earning | None:
    """The buyer's bank disputed `amount` of a completed order: hold that share of the
    seller's earning (net of the fee share) with a negative line, so it is not paid out
    (before payout) or is held back from the next payouts (after payout) while the
    dispute is open. Once per dispute (`reference`)."""
    return _dispute_line(order=order, amount=amount, reference=reference, kind=Earning.Kind.DISPUTE_HOLD)


def earning_release_for_dispute(*, order, reference: str) -> Earning | None:
    """The dispute closed (won, or lost and taken back by the refund path): give back
    what `earning_hold_for_dispute` held, with a positive line of the same amount."""
    hold = Earning.objects.filter(order=order, kind=Earning.Kind.DISPUTE_HOLD, reference=reference).first()
    if hold is None:
        return None
    return _dispute_line(
        order=order, amount=hold.gross_amount, reference=reference, kind=Earning.Kind.DISPUTE_RELEASE
    )


def earning_charge_dispute_fee(*, order, fee_amount: int, reference: str) -> Earning | None:
    """A dispute was lost and Stripe kept its dispute fee: when Payout Cycle Settings charge
    it to the seller, a negative line of the fee (netted off the next payouts); otherwise the
    platform bears it and nothing is written. Once per dispute."""
    config = PayoutCycleSettings.load()
    if not config.dispute_fee_charged_to_seller or fee_amount <= 0:
        return None
    sale = Earning.objects.filter(order=order, kind=Earning.Kind.SALE).first()
    if (
        sale is None
        or Earning.objects.filter(order=order, kind=Earning.Kind.DISPUTE_FEE, reference=reference).exists()
    ):
        return None
    line = Earning.objects.create(
        kind=Earning.Kind.DISPUTE_FEE,
        order=order,
        seller_id=sale.seller_id,
        currency=sale.currency,
        gross_amount=fee_amount,  # the seller pays it back to the platform's funds in full
        fee_amount=0,
        fee_bps=0,
        amount=-fee_amount,
        delay_days=0,
        completed_at=timezone.now(),
        available_on=config.today(),
        reference=reference,
        description=f"Order #{order.pk}: Stripe's fee for the lost dispute {reference}"[:400],
    )
    ledger.journals_post([ledger.earning_postings(line, Journal.Kind.DISPUTE_FEE, line.description)])
    return line


def _dispute_line(*, order, amount: int, reference: str, kind: str) -> Earning | None:
    sale = Earning.objects.select_for_update().filter(order=order, kind=Earning.Kind.SALE).first()
    if sale is None or sale.reversed_at is not None:
        return None  # nothing earned (not completed yet, or refunded before payout)
    if Earning.objects.filter(order=order, kind=kind, reference=reference).exists():
        return None
    amount = min(amount, sale.gross_amount)
    fee_part = fee_share(sale.fee_amount, amount, sale.gross_amount)
    hold = kind == Earning.Kind.DISPUTE_HOLD
    line = Earning.objects.create(
        kind=kind,
        order=order,
        seller_id=sale.seller_id,
        currency=sale.currency,
        gross_amount=amount,
        fee_amount=fee_part,
        fee_bps=sale.fee_bps,
        amount=(-1 if hold else 1) * (amount - fee_part),
        delay_days=0,
        completed_at=timezone.now(),
        available_on=PayoutCycleSettings.load().today(),
        reference=reference,
        description=(
            f"Order #{order.pk}: the buyer's bank disputed the payment ({reference})"
            if hold
            else f"Order #{order.pk}: dispute {reference} closed, hold released"
        )[:400],
    )
    journal = Journal.Kind.DISPUTE_HOLD if hold else Journal.Kind.DISPUTE_RELEASE
    ledger.journals_post([ledger.earning_postings(line, journal, line.description)])
    return line


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
    earlier_dates: list = field(default_factory=list)  # a dry run ahead: dates played first


def _unpaid(payout_date: date):
    return Earning.objects.filter(
        payout__isnull=True, reversed_at__isnull=True, available_on__lte=payout_date
    )


def _classify(
    rows, *, payability: dict[int, Payability], minimum: Callable[[str], int], report: RunReport
) -> list[dict]:
    """Which (seller, currency) totals become payouts; `minimum(currency)` is that
    currency's minimum payout in its minor units. A seller who cannot be paid
    (`payouts.payability`) is carried forward, counted as on hold."""
    chosen = []
    for row in rows:
        if not payability[row["seller_id"]].payable:
            report.on_hold += 1
        elif row["total"] <= 0:
            report.not_positive += 1  # a clawback larger than what is owed: carried forward
        elif row["total"] < minimum(row["currency"]):
            report.below_minimum += 1
        else:
            chosen.append(row)
    return chosen


def _chunk_sizes(total: int, chunk_size: int) -> list[int]:
    """How many user ids each chunk of a run takes: `chunk_size` while a quarter of what
    is left is more than that, then a quarter of what is left each time, down to an
    eighth of `chunk_size`. Workers take chunks in order, so the last ones are small: when
    one worker takes the last chunk, the others are finishing chunks no bigger, instead
    of waiting idle for a whole chunk (with two workers and 15 equal chunks, one of them
    builds 8 while the other waits for the eighth)."""
    if chunk_size < 1:
        raise ValueError(f"A chunk takes at least one seller id, not {chunk_size}.")
    sizes, smallest = [], max(1, chunk_size // 8)
    while total > 0:
        size = min(chunk_size, max(smallest, -(-total // 4)), total)
        sizes.append(size)
        total -= size
    return sizes


def _seller_range_end(cursor: int, chunk_size: int) -> int | None:
    ids = list(
        User.objects.filter(pk__gt=cursor)
        .order_by("pk")
        .values_list("pk", flat=True)[chunk_size - 1 : chunk_size]
    )
    if ids:
        return ids[0]
    return User.objects.filter(pk__gt=cursor).order_by("-pk").values_list("pk", flat=True).first()


def payout_date_check(*, payout_date: date) -> None:
    """Raise ApplicationError for a payout date before the platform's first
    (PAYOUTS_FIRST_DATE): nothing can be due then, and a run would only write an empty row."""
    first = settings.PAYOUTS_FIRST_DATE
    if payout_date < first:
        raise ApplicationError(
            f"{payout_date.isoformat()} is before the platform's first payout date, {first.isoformat()} "
            "(PAYOUTS_FIRST_DATE): nothing can be paid on it."
        )


def payout_run_dry(*, payout_date: date) -> RunReport:
    """What a run for this date would build now, without writing anything. For a date
    ahead, the payout dates before it that have not run yet (today's included) are played
    first, as their runs would pay, so the figures are what that date itself would pay."""
    payout_date_check(payout_date=payout_date)
    config = PayoutCycleSettings.load()
    report = RunReport(payout_date=payout_date, dry_run=True, paused=config.payouts_paused)
    done = PayoutRun.objects.filter(payout_date=payout_date, status=PayoutRun.Status.DONE).exists()
    report.already_done = done
    if config.payouts_paused or done:
        return report
    lines = list(
        _unpaid(payout_date)
        .values("seller_id", "currency", "available_on")
        .annotate(total=Sum("amount"), n=Sum(1))
        .order_by()
    )
    sellers = {line["seller_id"] for line in lines}
    today = config.today()
    if payout_date > today:
        already_run = set(
            PayoutRun.objects.filter(
                payout_date__gte=today, payout_date__lt=payout_date, status=PayoutRun.Status.DONE
            ).values_list("payout_date", flat=True)
        )
        report.earlier_dates = [
            day
            for day in schedule_for(config).payout_dates_between(
                first=today, last=payout_date - timedelta(days=1)
            )
            if day not in already_run
        ]
    for day in report.earlier_dates:
        due = [line for line in lines if line["available_on"] <= day]
        paid = {
            (row["seller_id"], row["currency"])
            for row in _classify(
                _per_seller(due),
                payability=sellers_payability(seller_ids=sellers, payout_date=day, config=config),
                minimum=config.minimum_payout_for,
                report=RunReport(payout_date=day, dry_run=True),
            )
        }
        lines = [
            line
            for line in lines
            if not (line["available_on"] <= day and (line["seller_id"], line["currency"]) in paid)
        ]
    payability = sellers_payability(seller_ids=sellers, payout_date=payout_date, config=config)
    for row in _classify(
        _per_seller(lines), payability=payability, minimum=config.minimum_payout_for, report=report
    ):
        report.payouts += 1
        report.lines += row["n"]
        report.amounts[row["currency"]] += row["total"]
    return report


def _per_seller(lines: list[dict]) -> list[dict]:
    """Lines grouped by (seller, currency, available_on), added up per seller and currency."""
    totals: dict[tuple[int, str], dict] = {}
    for line in lines:
        row = totals.setdefault(
            (line["seller_id"], line["currency"]),
            {"seller_id": line["seller_id"], "currency": line["currency"], "total": 0, "n": 0},
        )
        row["total"] += line["total"]
        row["n"] += line["n"]
    return list(totals.values())


def payout_run_create(
    *, payout_date: date, chunk_size: int = 2_000, progress=None, spread: bool = False
) -> RunReport:
    """Build the payouts due on `payout_date`: one per seller and currency, from every
    unpaid line available on or before that date, skipping sellers on hold, totals that
    are not positive (a clawback still being netted off) and totals under the minimum.
    Returns when the date's run is done, with what the whole run built.

    The sellers are split into chunks of `chunk_size` ids (`payout_run_plan`); this
    process builds every chunk no other process holds, then waits for those that others
    hold. With `spread`, each chunk is also sent to the Celery workers as a
    `payouts.run_chunk` task, so every worker process shortens the run; a lost message
    costs nothing, since this process (or the next hourly run) builds what is left.

    Idempotent and safe to run twice at once: the run row is unique per date, a chunk is
    built once (row lock, then its done mark in the same transaction), and the unique
    key per seller, currency and date stands behind that."""
    payout_date_check(payout_date=payout_date)
    config = PayoutCycleSettings.load()
    report = RunReport(payout_date=payout_date, paused=config.payouts_paused)
    run = payout_run_plan(payout_date=payout_date, chunk_size=chunk_size)
    if run is None:
        return report  # paused: closed with nothing built
    if run.status == PayoutRun.Status.DONE:
        report.already_done = True
        return report
    pending = (
        _spread(run) if spread else list(run.chunks.filter(done_at__isnull=True).values_list("pk", flat=True))
    )
    for done, chunk_id in enumerate(pending, start=1):  # first those nobody holds
        payout_run_chunk_build(chunk_id=chunk_id, wait=False)
        if progress:
            progress(done, len(pending))
    for chunk_id in run.chunks.filter(done_at__isnull=True).values_list("pk", flat=True):
        payout_run_chunk_build(chunk_id=chunk_id, wait=True)  # then wait for the others
    _run_finish(run.pk)
    return _run_report(PayoutRun.objects.get(pk=run.pk), report)


def payout_run_start(*, payout_date: date, chunk_size: int = 2_000) -> PayoutRun | None:
    """Plan the date's run and send every chunk not yet built to the Celery workers, then
    return at once; the worker that builds the last chunk closes the run. None if payouts
    are paused (the run is closed with nothing built)."""
    run = payout_run_plan(payout_date=payout_date, chunk_size=chunk_size)
    if run is not None and run.status != PayoutRun.Status.DONE:
        _spread(run)
    return run


def _spread(run: PayoutRun) -> list[int]:
    """Send each chunk not yet built as a `payouts.run_chunk` task, after commit. Best
    effort: a chunk whose message is lost is built by the process that planned it (or the
    next hourly run), never skipped."""
    from .tasks import run_payout_chunk  # the tasks module imports this one

    pending = list(run.chunks.filter(done_at__isnull=True).values_list("pk", flat=True))

    def publish():
        for chunk_id in pending:
            try:
                run_payout_chunk.apply_async(kwargs={"chunk_id": chunk_id}, retry=False)
            except Exception:  # noqa: BLE001 - the broker is down: the chunk is built here
                logger.warning("Could not send payout chunk %s to the workers.", chunk_id)
                return

    transaction.on_commit(publish)
    return pending


def payout_run_plan(*, payout_date: date, chunk_size: int = 2_000) -> PayoutRun | None:
    """The run of `payout_date`, with its chunks of sellers written (once: the cursor
    moves to the last user under the run's row lock). A paused platform closes the run
    with nothing built. None only if the run was paused."""
    config = PayoutCycleSettings.load()
    try:
        run, _ = PayoutRun.objects.get_or_create(payout_date=payout_date)
    except IntegrityError:  # created by a run that started at the same moment
        run = PayoutRun.objects.get(payout_date=payout_date)
    if run.status == PayoutRun.Status.DONE:
        return run
    if config.payouts_paused:
        PayoutRun.objects.filter(pk=run.pk, status=PayoutRun.Status.RUNNING).update(
            status=PayoutRun.Status.DONE, paused=True, finished_at=timezone.now()
        )
        return None
    with transaction.atomic():
        run = PayoutRun.objects.select_for_update().get(pk=run.pk)
        if run.status == PayoutRun.Status.DONE:
            # Closed while this call waited for the lock: a chunk added now would belong
            # to a run nobody builds again, and stay pending for ever.
            return run
        chunks = []
        cursor = run.cursor_seller_id
        sizes = _chunk_sizes(User.objects.filter(pk__gt=cursor).count(), chunk_size)
        # Users who signed up since the count go in full-size chunks after those.
        for size in itertools.chain(sizes, itertools.repeat(chunk_size)):
            if (end := _seller_range_end(cursor, size)) is None:
                break
            chunks.append(PayoutRunChunk(run=run, after_seller_id=cursor, last_seller_id=end))
            cursor = end
        if chunks:
            PayoutRunChunk.objects.bulk_create(chunks)
            PayoutRun.objects.filter(pk=run.pk).update(cursor_seller_id=cursor)
    return run


def payout_run_chunk_build(*, chunk_id: int, wait: bool = False) -> bool:
    """Build one chunk's payouts, if nobody has: True when this call built it. Without
    `wait`, a chunk another process is building is skipped at once; with it, this call
    waits for that process and then finds the chunk done (or builds it, if that process
    died). The last chunk to be built closes the run."""
    with transaction.atomic():
        # Only the chunk's row is locked (`of`): locking the run too would make every
        # other process skip every chunk while one is being built.
        chunk = (
            PayoutRunChunk.objects.select_for_update(skip_locked=not wait, of=("self",))
            .select_related("run")
            .filter(pk=chunk_id, done_at__isnull=True)
            .first()
        )
        if chunk is None:
            return False
        run = chunk.run
        config = PayoutCycleSettings.load()
        built = RunReport(payout_date=run.payout_date)
        _run_chunk(run=run, config=config, low=chunk.after_seller_id, high=chunk.last_seller_id, report=built)
        # The counts stay on the chunk (the run row is not locked by every chunk's
        # commit, so chunks commit side by side); the run adds them up when it closes.
        chunk.done_at = timezone.now()
        chunk.done_by = f"{socket.gethostname()}:{os.getpid()}"[:200]
        chunk.payouts_created, chunk.lines_paid = built.payouts, built.lines
        chunk.below_minimum, chunk.on_hold, chunk.not_positive = (
            built.below_minimum,
            built.on_hold,
            built.not_positive,
        )
        chunk.save()
    _run_finish(run.pk)
    return True


RUN_COUNTS = ("payouts_created", "lines_paid", "below_minimum", "on_hold", "not_positive")


def _counts_with_chunks(run: PayoutRun) -> dict[str, int]:
    """The run's counts plus those its built chunks hold (a run adds them up once, when
    it closes)."""
    built = run.chunks.aggregate(**{name: Sum(name) for name in RUN_COUNTS})
    return {name: getattr(run, name) + (built[name] or 0) for name in RUN_COUNTS}


def _run_finish(run_id: int) -> PayoutRun | None:
    """Close the run once every chunk is built (checked under the run's lock, after the
    caller's chunk committed) and send the date's transfers. Returns the run if this call
    closed it."""
    with transaction.atomic():
        run = PayoutRun.objects.select_for_update().get(pk=run_id)
        if run.status == PayoutRun.Status.DONE or run.chunks.filter(done_at__isnull=True).exists():
            return None
        for name, count in _counts_with_chunks(run).items():
            setattr(run, name, count)
        run.status = PayoutRun.Status.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at", *RUN_COUNTS])
        _submit_later(run.payout_date)
    return run


def _run_report(run: PayoutRun, report: RunReport) -> RunReport:
    """What the whole run built, whichever processes built it (so far, if other
    processes are still building chunks)."""
    counts = (
        {name: getattr(run, name) for name in RUN_COUNTS}
        if run.status == PayoutRun.Status.DONE
        else _counts_with_chunks(run)
    )
    report.payouts, report.lines = counts["payouts_created"], counts["lines_paid"]
    report.below_minimum, report.on_hold = counts["below_minimum"], counts["on_hold"]
    report.not_positive = counts["not_positive"]
    for row in run.payouts.values("currency").annotate(total=Sum("amount")).order_by():
        report.amounts[row["currency"]] = row["total"]
    return report


def _run_chunk(
    *, run: PayoutRun, config: PayoutCycleSettings, low: int, high: int, report: RunReport
) -> None:
    D = run.payout_date
    if connection.vendor == "postgresql":
        # A chunk's statements each read one range of sellers by index: compiling them
        # (JIT) and starting parallel query workers costs more than it saves, and with
        # chunks built side by side those workers would only take the cores the other
        # chunks are using. For this transaction only.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
            )
    in_range = _unpaid(D).filter(seller_id__gt=low, seller_id__lte=high)
    rows = list(in_range.values("seller_id", "currency").annotate(total=Sum("amount")).order_by())
    # Who can be paid is decided once per chunk, in one place; the others' lines stay
    # unpaid and carry forward to the first payout date on which they can be paid.
    payability = sellers_payability(
        seller_ids={row["seller_id"] for row in rows}, payout_date=D, config=config, lock=True
    )
    chunk_report = RunReport(payout_date=D)
    chosen = _classify(rows, payability=payability, minimum=config.minimum_payout_for, report=chunk_report)
    if chosen:
        # One payout per seller, currency and date (a unique key), so its idempotency key
        # names exactly one transfer, however often it is resent.
        namespace = settings.STRIPE_IDEMPOTENCY_NAMESPACE
        ids = insert_returning_ids(
            Payout,
            [
                "seller_id",
                "currency",
                "payout_date",
                "amount",
                "run_id",
                "provider",
                "idempotency_key",
                "transfer_group",
            ],
            [
                (
                    row["seller_id"],
                    row["currency"],
                    D,
                    row["total"],
                    run.pk,
                    payability[row["seller_id"]].provider,
                    f"{namespace}:payout-{row['seller_id']}-{row['currency']}-{D}",
                    f"payout-{D:%Y-%m-%d}-{row['seller_id']}",
                )
                for row in chosen
            ],
        )
        created = [
            Payout(
                pk=pk,
                seller_id=row["seller_id"],
                currency=row["currency"],
                payout_date=D,
                amount=row["total"],
            )
            for pk, row in zip(ids, chosen, strict=True)
        ]
        taken = _take_lines(run=run, low=low, high=high)
        # Each payout is what its lines add up to. Payouts left with no line, or under the
        # minimum (refunds that committed between the sums and the update), are not made;
        # their lines stay unpaid.
        payouts, short, changed = [], [], []
        for payout in created:
            total, _ = taken.get(payout.pk, (0, 0))
            if payout.pk not in taken or total < max(config.minimum_payout_for(payout.currency), 1):
                short.append(payout.pk)
                continue
            if total != payout.amount:
                payout.amount = total
                changed.append(payout)
            payouts.append(payout)
        if changed:
            Payout.objects.bulk_update(changed, ["amount"])
        if short:
            Earning.objects.filter(seller_id__gt=low, seller_id__lte=high, payout_id__in=short).update(
                payout=None
            )
            Payout.objects.filter(pk__in=short).delete()
        ledger.journals_post(ledger.payout_postings(payouts, Journal.Kind.PAYOUT))
        report.payouts += len(payouts)
        report.lines += sum(taken[p.pk][1] for p in payouts)
        for p in payouts:
            report.amounts[p.currency] += p.amount
    for name in ("below_minimum", "on_hold", "not_positive"):
        setattr(report, name, getattr(report, name) + getattr(chunk_report, name))


def _take_lines(*, run: PayoutRun, low: int, high: int) -> dict[int, tuple[int, int]]:
    """Give every unpaid line available by the date, of the sellers in (low, high], to its
    payout of the run (UPDATE … FROM, which PostgreSQL and SQLite 3.33+ both run).
    Returns {payout id: (what its lines add up to, how many)} for the payouts that took
    any: on PostgreSQL from the updated rows themselves, in the same statement."""
    e, p = Earning._meta.db_table, Payout._meta.db_table
    take = f"""
        UPDATE {e} SET payout_id = p.id
        FROM {p} p
        WHERE p.run_id = %s AND p.seller_id = {e}.seller_id AND p.currency = {e}.currency
          AND {e}.seller_id > %s AND {e}.seller_id <= %s
          AND {e}.payout_id IS NULL AND {e}.reversed_at IS NULL AND {e}.available_on <= %s
    """
    params = [run.pk, low, high, run.payout_date]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The payouts were inserted in this transaction, so the planner's statistics
            # see (almost) none and it loops over them, reading each seller's lines by
            # index, page after page at random. A hash join reads the chunk's lines once,
            # in the table's order (a quarter faster at 3M lines): nested loops are off
            # for this one statement.
            cursor.execute(
                "SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)"
            )
            nestloop = cursor.fetchone()[0]
            cursor.execute(
                f"""
                WITH taken AS ({take} RETURNING {e}.payout_id, {e}.amount)
                SELECT payout_id, SUM(amount), COUNT(*) FROM taken GROUP BY payout_id
                """,
                params,
            )
            rows = cursor.fetchall()
            cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [nestloop])
            return {payout_id: (int(total), count) for payout_id, total, count in rows}
        else:
            cursor.execute(take, params)
            cursor.execute(
                f"""
                SELECT payout_id, SUM(amount), COUNT(*) FROM {e}
                WHERE seller_id > %s AND seller_id <= %s
                  AND payout_id IN (SELECT id FROM {p} WHERE run_id = %s AND seller_id > %s AND seller_id <= %s)
                GROUP BY payout_id
                """,
                [low, high, run.pk, low, high],
            )
        return {payout_id: (int(total), count) for payout_id, total, count in cursor.fetchall()}


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


def payout_runs_due(*, now=None, spread: bool = False) -> list[RunReport]:
    """What beat runs every hour: every due payout date's run, catching up missed ones
    (`spread`: with each run's chunks sent to the Celery workers too)."""
    return [payout_run_create(payout_date=d, spread=spread) for d in payout_dates_due(now=now)]


# --- submitting, paying, failing ---------------------------------------------------------------


def _submit_later(payout_date: date) -> None:
    """When the date has Stripe Connect payouts, submit their transfers after commit (an
    outbox row, in the caller's transaction if there is one)."""
    if Payout.objects.filter(
        payout_date=payout_date,
        provider=PayoutCycleSettings.Provider.STRIPE_CONNECT,
        status=Payout.Status.SCHEDULED,
    ).exists():
        outbox_task(task="payouts.submit", kwargs={"payout_date": payout_date.isoformat()})


def _locked(payout_id: int) -> Payout:
    return Payout.objects.select_for_update().select_related("seller").get(pk=payout_id)


def _transition(payout: Payout, name: str, **kwargs) -> None:
    method = getattr(payout, name)
    if not can_proceed(method):
        raise _not_allowed(payout, name)
    method(**kwargs)
    payout.save()


def _not_allowed(payout: Payout, name: str) -> ApplicationError:
    return ApplicationError(
        f"Payout #{payout.pk} is {payout.get_status_display().lower()}: "
        f"it cannot be {transition_custom(Payout)[name]['past']}."
    )


# What staff do to a payout in the admin, and the transition each ends with.
STAFF_ACTIONS = {"mark_paid": "mark_paid", "mark_failed": "fail", "cancel": "cancel"}


def payout_action_check(*, payout: Payout, action: str) -> None:
    """Raise ApplicationError, saying why, when staff cannot take `action` ("mark_paid",
    "mark_failed", "cancel", "export_csv", "export_csv_again" or "check_with_stripe") on
    `payout` as it is now.
    Nothing is locked: admin actions check every selected payout with it before changing
    any; the service checks again."""
    if action in ("export_csv", "export_csv_again"):
        refusal = _bank_file_refusal(payout, again=action == "export_csv_again")
        if refusal:
            raise ApplicationError(refusal)
        return
    if action == "check_with_stripe":
        if payout.provider != PayoutCycleSettings.Provider.STRIPE_CONNECT:
            raise ApplicationError(
                f"Payout #{payout.pk} is not a Stripe Connect payout: there is no transfer to check."
            )
        if payout.status == Payout.Status.SCHEDULED:
            raise ApplicationError(
                f"Payout #{payout.pk} has not been sent to Stripe yet: there is no transfer to check."
            )
        if not payout.transfer_group:
            raise ApplicationError(NO_TRANSFER_GROUP.format(pk=payout.pk))
        return
    if action != "mark_paid" and transfer_outcome_unknown(payout):
        raise ApplicationError(CHECK_WITH_STRIPE_FIRST.format(pk=payout.pk))
    name = STAFF_ACTIONS[action]
    # Marking a scheduled payout paid or failed sends it first (`submit`).
    sent_first = action != "cancel" and payout.status == Payout.Status.SCHEDULED
    if not (sent_first or can_proceed(getattr(payout, name))):
        raise _not_allowed(payout, name)


def _email_later(kind: str, payout_id: int) -> None:
    """Render the payout email now and queue it in this transaction; sent after commit."""
    payout_email_send(kind=kind, payout_id=payout_id)


BANK_CSV_COLUMNS = [
    "payout_id",
    "payout_date",
    "seller_email",
    "account_holder",
    "iban_or_account_number",
    "bic_or_routing_number",
    "amount",
    "currency",
    "reference",
]


@dataclass
class BankExport:
    """The bank file, and the payouts left out of it, each with why (for staff)."""

    csv: str
    exported: int = 0
    left_out: list[str] = field(default_factory=list)


ALREADY_IN_A_BANK_FILE = (
    "Payout #{pk} is already in a bank file (exported {when}): it is not put in another, so the "
    "bank cannot pay it twice. If the bank never received that file, use “Export again for the bank "
    "(duplicate file)”, which names the same account."
)
NOT_IN_A_BANK_FILE = "Payout #{pk} is not in a bank file yet: use “Export for the bank”."
NO_RECORDED_DESTINATION = (
    "Payout #{pk} was sent to the bank before the account of each bank file was recorded, so a "
    "duplicate file could name other details than the first: ask the bank whether it paid it, then "
    "mark it paid, or failed (its money goes back to the seller's balance and out on the next payout date)."
)


def _exported_when(payout: Payout) -> str:
    if payout.exported_at is None:
        return "before exports were dated"
    local = payout.exported_at.astimezone(PayoutCycleSettings.load().tz)
    return f"on {datetime_text(local)}"


def _bank_file_refusal(payout: Payout, *, again: bool) -> str:
    """Why `payout` cannot go in a bank file (`again`: a duplicate file), or ""."""
    if payout.provider != PayoutCycleSettings.Provider.MANUAL:
        return f"Payout #{payout.pk} is paid by Stripe Connect, not by the bank."
    if payout.status not in (Payout.Status.SCHEDULED, Payout.Status.PROCESSING):
        return (
            f"Payout #{payout.pk} is {payout.get_status_display().lower()}: "
            "it cannot be exported to the bank file."
        )
    # A bank-transfer payout is processing only once a bank file has it.
    in_a_file = payout.status == Payout.Status.PROCESSING or payout.exported_at is not None
    if not again and in_a_file:
        return ALREADY_IN_A_BANK_FILE.format(pk=payout.pk, when=_exported_when(payout))
    if again and not in_a_file:
        return NOT_IN_A_BANK_FILE.format(pk=payout.pk)
    if again and not payout.destination_account:
        return NO_RECORDED_DESTINATION.format(pk=payout.pk)
    return ""


def _csv_text(value: str) -> str:
    """A text cell a spreadsheet must not run as a formula (the bank file is opened in
    one): a leading =, +, -, @, tab or line break is escaped with an apostrophe, as OWASP
    advises. Names are refused with those at input; this covers anything stored before."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _destination_record(payout: Payout, account: PayoutAccount) -> None:
    us = account.bank_scheme == PayoutAccount.Scheme.US_ABA
    payout.destination_scheme = account.bank_scheme
    payout.destination_holder_name = account.holder_name
    payout.destination_account = account.account_number if us else account.iban
    payout.destination_bank_code = account.routing_number if us else account.bic


def payouts_export_csv(*, payout_ids: list[int], by, again: bool = False) -> BankExport:
    """The manual provider: a CSV for the bank of the chosen bank-transfer payouts, one
    column per thing the bank needs (holder, IBAN or account number, BIC or routing number,
    amount, currency, the reference the seller sees). Each becomes `processing` (handed to
    the bank), and the account it names is recorded on it.

    A payout goes in one bank file: one already in a file is left out, so the bank cannot
    pay it twice. With `again` (staff say the bank never received the first file), only
    payouts already in a file are written, each to the account its first file named, never
    to the seller's details of today.

    The details are checked again before a first file (`payouts.payability`): a payout
    whose seller cannot be paid today by bank transfer (details changed since it was built
    and cooling off, incomplete, or the seller now paid another way) is not exported but
    canceled, so its money waits in the balance for the first payout date the seller can be
    paid."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(BANK_CSV_COLUMNS)
    export = BankExport(csv="")
    config = PayoutCycleSettings.load()
    with transaction.atomic():
        chosen = list(
            Payout.objects.filter(
                pk__in=payout_ids, status__in=[Payout.Status.SCHEDULED, Payout.Status.PROCESSING]
            ).values_list("seller_id", flat=True)
        )
        # Lock order: the sellers' payout accounts, then their payouts.
        payability = sellers_payability(
            seller_ids=chosen,
            payout_date=config.today(),
            config=config,
            lock=True,
            provider=PayoutCycleSettings.Provider.MANUAL,
        )
        accounts = {a.seller_id: a for a in PayoutAccount.objects.filter(seller_id__in=chosen)}
        payouts = list(
            Payout.objects.select_for_update()
            .filter(pk__in=payout_ids, status__in=[Payout.Status.SCHEDULED, Payout.Status.PROCESSING])
            .select_related("seller")
            .order_by("pk")
        )
        now = timezone.now()
        for p in payouts:
            refusal = _bank_file_refusal(p, again=again)
            if refusal:
                export.left_out.append(refusal)
                continue
            if not again:
                decision = payability[p.seller_id]
                if not decision.payable:
                    reason = f"Not sent to the bank: {decision.block_label.lower()}."
                    _transition(p, "cancel", by=by, description=reason)
                    _return_funds(p)
                    export.left_out.append(
                        f"Payout #{p.pk} ({p.seller.email}) was canceled, its money back in the balance: "
                        f"{decision.block_label.lower()}."
                    )
                    continue
                _destination_record(p, accounts[p.seller_id])
                p.exported_at = now
                _transition(p, "submit", by=by, description="Exported to the bank file")
            p.export_count += 1
            p.save(update_fields=["export_count"])
            writer.writerow(
                [
                    p.pk,
                    p.payout_date.isoformat(),
                    _csv_text(p.seller.email),
                    _csv_text(p.destination_holder_name),
                    _csv_text(p.destination_account),
                    _csv_text(p.destination_bank_code),
                    amount_plain(p.amount, p.currency),
                    p.currency,
                    f"Marketplace payout {p.pk} of {p.payout_date:%Y-%m-%d}",
                ]
            )
            export.exported += 1
    export.csv = out.getvalue()
    return export


def payout_mark_paid(*, payout_id: int, by=None, reference: str = "") -> Payout:
    """The money reached the seller (the bank confirmed it, or Stripe made the transfer)."""
    with transaction.atomic():
        payout = _locked(payout_id)
        _paid(payout, by=by, reference=reference)
    return payout


def _paid(payout: Payout, *, by=None, reference: str = "", description=None) -> None:
    if payout.status == Payout.Status.SCHEDULED:
        _transition(payout, "submit", by=by, description="Sent")
    _transition(payout, "mark_paid", by=by, description=description, reference=reference)
    ledger.journals_post(ledger.payout_postings([payout], Journal.Kind.PAYOUT_PAID))
    _email_later("payout_sent", payout.pk)


def transfer_outcome_unknown(payout: Payout) -> bool:
    """A Stripe Connect payout sent (or being sent) with no transfer id recorded and no
    refusal, not found missing at Stripe since it was last sent: the transfer may exist,
    so failing or canceling it could pay the seller twice."""
    return (
        payout.provider == PayoutCycleSettings.Provider.STRIPE_CONNECT
        and payout.status == Payout.Status.PROCESSING
        and not payout.provider_reference
        and (
            payout.transfer_checked_at is None
            or (payout.transfer_sent_at is not None and payout.transfer_checked_at < payout.transfer_sent_at)
        )
    )


def payout_mark_failed(*, payout_id: int, reason: str, by=None) -> Payout:
    """The money did not reach the seller. It goes back to their balance, the seller is
    emailed, and it goes out again on the next payout date. Refused for a Stripe Connect
    payout whose transfer may exist until Stripe has been checked."""
    return _payout_fail(payout_id=payout_id, reason=reason, by=by)


def _payout_fail(*, payout_id: int, reason: str, by=None, no_transfer: bool = False) -> Payout:
    """`no_transfer`: the caller knows Stripe made no transfer (it refused the request,
    or none was sent), so the unknown-outcome check does not apply."""
    if not reason.strip():
        raise ApplicationError("Give a reason: the seller sees it.")
    with transaction.atomic():
        payout = _locked(payout_id)
        if not no_transfer and transfer_outcome_unknown(payout):
            raise ApplicationError(CHECK_WITH_STRIPE_FIRST.format(pk=payout.pk))
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
        if transfer_outcome_unknown(payout):
            raise ApplicationError(CHECK_WITH_STRIPE_FIRST.format(pk=payout.pk))
        _transition(payout, "cancel", by=by, description=reason.strip())
        _return_funds(payout)
    return payout


def payouts_cancel_unsent(*, seller_id: int, reason: str, by=None) -> list[int]:
    """Cancel the seller's payouts not yet sent (scheduled), their money back in the
    balance; returns their ids. Each is locked and its status read under the lock: one the
    Stripe send or a bank file took meanwhile is no longer scheduled and is left as it is.
    Runs in the caller's transaction (a change of where the money goes, with the seller's
    payout account locked first)."""
    canceled = []
    for payout in (
        Payout.objects.select_for_update()
        .filter(seller_id=seller_id, status=Payout.Status.SCHEDULED)
        .order_by("pk")
    ):
        if payout.status != Payout.Status.SCHEDULED:
            continue
        _transition(payout, "cancel", by=by, description=reason)
        _return_funds(payout)
        canceled.append(payout.pk)
    return canceled


def _return_funds(payout: Payout) -> None:
    Earning.objects.filter(seller_id=payout.seller_id, payout=payout).update(payout=None)
    ledger.journals_post(ledger.payout_postings([payout], Journal.Kind.PAYOUT_RETURNED))


# --- Stripe Connect: sending transfers, and checking what Stripe did -------------------------


def _send_settle_time() -> timedelta:
    """How long a transfer request may still be under way after it was sent: every
    in-call retry timing out after its backoff (with jitter), plus a minute for Stripe."""
    retries = settings.STRIPE_TRANSPORT_RETRIES
    backoff = settings.STRIPE_RETRY_BACKOFF_SECONDS * (2**retries) * 1.5
    return timedelta(seconds=(retries + 1) * settings.STRIPE_TIMEOUT_SECONDS + backoff + 60)


def payout_submit_to_stripe(*, payout_id: int) -> Payout:
    """Stripe Connect: one transfer per payout, to the seller's connected account, with the
    payout's idempotency key (so a resend after a crash cannot pay twice) and its transfer
    group. Stripe refusing fails the payout. Stripe not answering, or answering 409 (a
    request with this key is still in progress), leaves it processing, to be sent again
    with the same key. Stripe refusing the key itself (used with other parameters) is the
    platform's error: the payout is held for staff, not failed, since a transfer may exist.

    A payout sent before is looked up at Stripe by its transfer group first, and a
    transfer found is recorded instead of sending again: a resend then never depends on
    Stripe still remembering the key (it forgets after 24 hours)."""
    payout = Payout.objects.get(pk=payout_id)
    if (
        payout.status == Payout.Status.PROCESSING
        and not payout.provider_reference
        and not payout.transfer_problem
    ):
        try:
            found = _transfers_of(payout)
        except (GatewayUnavailable, stripe.StripeError) as exc:
            logger.warning(
                "Could not look up payout #%s's transfer at Stripe (%s); not resent now", payout.pk, exc
            )
            return payout
        if found:
            return _transfers_record(payout_id=payout.pk, transfers=found).payout
    with transaction.atomic():
        # Lock order: the seller's payout account, then the payout. A change of where the
        # money goes waits for this send to be recorded (and then leaves the payout, no
        # longer scheduled), or this send waits for the change (and finds it canceled).
        on = max(payout.payout_date, PayoutCycleSettings.load().today())
        decision = sellers_payability(
            seller_ids=[payout.seller_id], payout_date=on, provider=payout.provider, lock=True
        )[payout.seller_id]
        payout = _locked(payout_id)
        if payout.status == Payout.Status.SCHEDULED or (
            payout.status == Payout.Status.PROCESSING and not payout.transfer_sent_at
        ):
            # Never sent, so no transfer can exist: check the seller can still be paid
            # (Stripe may have disabled payouts, staff may hold them, details may have
            # changed since the run); if not, the money waits in the balance.
            if not decision.payable:
                reason = f"Not sent: {decision.block_label.lower()}. It goes out once the seller can be paid."
                if payout.status == Payout.Status.SCHEDULED:
                    _transition(payout, "cancel", description=reason)
                    _return_funds(payout)
                    return payout
                return _payout_fail(payout_id=payout.pk, reason=reason, no_transfer=True)
        if payout.status == Payout.Status.SCHEDULED:
            _transition(payout, "submit", description="Sent to Stripe")
        elif (
            payout.status != Payout.Status.PROCESSING or payout.provider_reference or payout.transfer_problem
        ):
            return payout
        account = PayoutAccount.objects.filter(seller_id=payout.seller_id).first()
        if account is None or not account.stripe_account_id:
            return _payout_fail(
                payout_id=payout.pk,
                reason="The seller has not connected a Stripe account to be paid into.",
                no_transfer=True,
            )
        # Committed before the call: from now on the transfer may exist at Stripe.
        payout.transfer_sent_at = timezone.now()
        payout.save(update_fields=["transfer_sent_at"])
    try:
        transfer = connect.transfer_create(
            destination=account.stripe_account_id,
            amount=payout.amount,
            currency=payout.currency,
            transfer_group=payout.transfer_group,
            idempotency_key=payout.idempotency_key,
            metadata={"payout_id": str(payout.pk), "payout_date": payout.payout_date.isoformat()},
        )
    except GatewayUnavailable as exc:
        if exc.http_status == 409:
            logger.warning(
                "Stripe is still working on payout #%s's transfer (409); it will be sent again with the same key",
                payout.pk,
            )
        else:
            logger.warning(
                "Stripe did not answer for payout #%s; it will be sent again with the same key", payout.pk
            )
        return payout
    except stripe.IdempotencyError as exc:
        return _payout_hold(
            payout_id=payout.pk,
            problem=(
                f"Stripe refused the payout's idempotency key: {exc.user_message or exc} "
                "A transfer may exist: check with Stripe."
            ),
        )
    except stripe.StripeError as exc:
        return _payout_fail(
            payout_id=payout.pk,
            reason=f"Stripe refused the transfer: {exc.user_message or exc}",
            no_transfer=True,
        )
    return payout_mark_paid(payout_id=payout.pk, reference=transfer["id"])


def _payout_hold(*, payout_id: int, problem: str) -> Payout:
    """The platform's own request was wrong: keep the payout processing and out of the
    resends until staff act."""
    logger.error("Payout #%s held for staff: %s", payout_id, problem)
    with transaction.atomic():
        payout = _locked(payout_id)
        if payout.status == Payout.Status.PROCESSING and not payout.provider_reference:
            payout.transfer_problem = problem[:500]
            payout.save(update_fields=["transfer_problem"])
    return payout


def payouts_submit(*, payout_date: date | None = None) -> int:
    """Send every scheduled (or unanswered processing) Stripe Connect payout, except those
    held for staff."""
    pending = Payout.objects.filter(
        provider=PayoutCycleSettings.Provider.STRIPE_CONNECT,
        status__in=[Payout.Status.SCHEDULED, Payout.Status.PROCESSING],
        provider_reference="",
        transfer_problem="",
    )
    if payout_date:
        pending = pending.filter(payout_date=payout_date)
    count = 0
    for payout_id in pending.order_by("pk").values_list("pk", flat=True).iterator():
        payout_submit_to_stripe(payout_id=payout_id)
        count += 1
    return count


@dataclass
class TransferCheck:
    """What "Check with Stripe" found for one payout, with a message for staff."""

    class Outcome:
        RECORDED = "recorded"  # one transfer found: recorded, the payout is paid
        PAID_MORE_THAN_ONCE = "paid_more_than_once"  # several: the first recorded, ops must reverse
        NOT_FOUND = "not_found"  # none: the payout may now be failed or resent
        STILL_SENDING = "still_sending"  # none yet, but a send may still be under way
        FOUND_ON_CLOSED_PAYOUT = "found_on_closed_payout"  # failed or canceled, yet paid at Stripe
        NOTHING_TO_CHECK = "nothing_to_check"

    payout: Payout
    outcome: str
    message: str
    transfer_ids: list = field(default_factory=list)


def _transfers_of(payout: Payout) -> list[dict]:
    """The transfers Stripe made for this payout, oldest first: those in its transfer
    group in its currency (a seller's payouts of one date in two currencies share a
    group) that name it, or no payout, in their metadata."""
    if not payout.transfer_group:
        raise ApplicationError(NO_TRANSFER_GROUP.format(pk=payout.pk))
    return [
        t
        for t in connect.transfers_in_group(transfer_group=payout.transfer_group)
        if (t.get("currency") or "").lower() == payout.currency.lower()
        and (t.get("metadata") or {}).get("payout_id", str(payout.pk)) == str(payout.pk)
    ]


def _transfers_record(*, payout_id: int, transfers: list[dict], by=None) -> TransferCheck:
    """Stripe has the transfer(s): record the first and mark the payout paid, as an
    answered transfer would. More than one means the seller was paid more than once."""
    ids = [t["id"] for t in transfers]
    first = transfers[0]
    with transaction.atomic():
        payout = _locked(payout_id)
        if payout.status != Payout.Status.PROCESSING or payout.provider_reference:
            return _transfer_check_closed(payout, ids)
        payout.transfer_problem = ""
        _paid(payout, by=by, reference=first["id"], description=f"Found at Stripe: transfer {first['id']}")
    if len(ids) > 1:
        logger.error(
            "Payout #%s was paid %s times at Stripe (%s); %s recorded, the others must be reversed",
            payout.pk,
            len(ids),
            ", ".join(ids),
            first["id"],
        )
        check = TransferCheck(
            payout=payout,
            outcome=TransferCheck.Outcome.PAID_MORE_THAN_ONCE,
            transfer_ids=ids,
            message=(
                f"Stripe has {len(ids)} transfers for payout #{payout.pk} ({', '.join(ids)}): the seller "
                f"was paid {len(ids)} times. {first['id']} is recorded and the payout is marked paid; "
                "reverse the others at Stripe."
            ),
        )
    else:
        check = TransferCheck(
            payout=payout,
            outcome=TransferCheck.Outcome.RECORDED,
            transfer_ids=ids,
            message=f"Stripe has transfer {first['id']} for payout #{payout.pk}: recorded, and the payout is marked paid.",
        )
    if first.get("reversed"):
        payout = payout_transfer_reversed(
            transfer_id=first["id"], reason="Stripe reports the transfer reversed."
        )
        check.payout = payout
        check.message += (
            " Stripe has reversed it, so the payout is failed and the money is back in the seller's balance."
        )
    return check


def _transfer_check_closed(payout: Payout, ids: list[str]) -> TransferCheck:
    if not ids:
        return TransferCheck(
            payout=payout,
            outcome=TransferCheck.Outcome.NOTHING_TO_CHECK,
            message=f"Payout #{payout.pk} is {payout.get_status_display().lower()} and Stripe has no transfer for it.",
        )
    if payout.provider_reference in ids and len(ids) == 1:
        return TransferCheck(
            payout=payout,
            outcome=TransferCheck.Outcome.NOTHING_TO_CHECK,
            transfer_ids=ids,
            message=f"Payout #{payout.pk} is {payout.get_status_display().lower()}, by transfer {ids[0]}.",
        )
    logger.error("Payout #%s is %s but Stripe has transfers %s for it", payout.pk, payout.status, ids)
    return TransferCheck(
        payout=payout,
        outcome=TransferCheck.Outcome.FOUND_ON_CLOSED_PAYOUT,
        transfer_ids=ids,
        message=(
            f"Payout #{payout.pk} is {payout.get_status_display().lower()}"
            + (f" (transfer {payout.provider_reference})" if payout.provider_reference else "")
            + f", but Stripe has transfer(s) {', '.join(ids)} for it: the seller was paid more than "
            "the payout says. Reverse the extra transfer at Stripe."
        ),
    )


def payout_check_with_stripe(*, payout_id: int, by=None) -> TransferCheck:
    """Look a Stripe Connect payout's transfer up at Stripe by its transfer group. Found:
    record it and mark the payout paid (found twice or more: say so loudly and record the
    first). Not found, and no send can still be under way: note it, after which the payout
    may be failed (money back to the balance) or is resent with the same key. A payout
    with no transfer to look for (not Connect, not sent yet) raises ApplicationError."""
    payout = Payout.objects.get(pk=payout_id)
    payout_action_check(payout=payout, action="check_with_stripe")
    sent_at = payout.transfer_sent_at
    try:
        transfers = _transfers_of(payout)
    except (GatewayUnavailable, stripe.StripeError) as exc:
        raise ApplicationError(f"Stripe did not answer the check ({exc}); try again in a minute.") from exc
    if payout.status != Payout.Status.PROCESSING or payout.provider_reference:
        return _transfer_check_closed(payout, [t["id"] for t in transfers])
    if transfers:
        return _transfers_record(payout_id=payout.pk, transfers=transfers, by=by)
    now = timezone.now()
    with transaction.atomic():
        payout = _locked(payout_id)
        if payout.status != Payout.Status.PROCESSING or payout.provider_reference:
            return _transfer_check_closed(payout, [])
        settled_at = sent_at + _send_settle_time() if sent_at else now
        if payout.transfer_sent_at != sent_at or now < settled_at:
            # Sent while Stripe was being asked, or a send may still be on its way: a
            # transfer not listed yet may still be made.
            settled_at = max(settled_at, (payout.transfer_sent_at or now) + _send_settle_time())
            return TransferCheck(
                payout=payout,
                outcome=TransferCheck.Outcome.STILL_SENDING,
                message=(
                    f"Stripe has no transfer for payout #{payout.pk} yet, but it was sent at "
                    f"{platform_localtime(payout.transfer_sent_at):%H:%M:%S} and may still be under way: check "
                    f"again after {platform_localtime(settled_at):%H:%M:%S}."
                ),
            )
        payout.transfer_checked_at = now
        payout.save(update_fields=["transfer_checked_at"])
    then = (
        f"It is held: {payout.transfer_problem} Mark it failed to return the money to the seller's balance."
        if payout.transfer_problem
        else "It will be sent again with the same key within 15 minutes, unless you mark it failed "
        "to return the money to the seller's balance."
    )
    return TransferCheck(
        payout=payout,
        outcome=TransferCheck.Outcome.NOT_FOUND,
        message=f"Stripe has no transfer for payout #{payout.pk}. {then}",
    )


def payout_transfer_reversed(*, transfer_id: str, reason: str) -> Payout | None:
    """A webhook said Stripe reversed (or failed) a transfer: the payout failed."""
    payout = Payout.objects.filter(provider_reference=transfer_id).first()
    if payout is None or payout.status == Payout.Status.FAILED:
        return payout
    return payout_mark_failed(payout_id=payout.pk, reason=reason)
