"""
The processing loop (the first seed's): yield due subscription invoices, apply ended
grace periods, then attempt every due transaction, a batch of claims at a time, with
sender threads and, for a big backlog on PostgreSQL, forked processes.
"""

import logging
import queue
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from . import gateway
from .models import ProcessingLease
from .selectors import transactions_due_ids
from .services.charging import AttemptResult, claim, claim_many, send_and_record
from .services.dunning import invoices_apply_grace
from .services.subscriptions import subscriptions_yield_invoices

logger = logging.getLogger(__name__)


@dataclass
class ProcessReport:
    invoices_issued: int = 0
    final_actions: int = 0
    results: dict[AttemptResult, int] = field(default_factory=dict)
    skipped_busy: bool = False

    def count(self, result: AttemptResult) -> None:
        self.results[result] = self.results.get(result, 0) + 1

    @property
    def attempted(self) -> int:
        not_tried = (AttemptResult.SKIPPED, AttemptResult.WAITING)
        return sum(v for k, v in self.results.items() if k not in not_tried)


LEASE_FREE = datetime(2000, 1, 1, tzinfo=UTC)


def _lease_take(name: str, holder: str, seconds: int) -> bool:
    now = timezone.now()
    ProcessingLease.objects.get_or_create(name=name, defaults={"held_until": LEASE_FREE})
    return bool(
        ProcessingLease.objects.filter(Q(held_until__lt=now) | Q(holder=holder), name=name).update(
            held_until=now + timedelta(seconds=seconds), holder=holder
        )
    )


def _lease_release(name: str, holder: str) -> None:
    ProcessingLease.objects.filter(name=name, holder=holder).update(held_until=LEASE_FREE, holder="")


def transactions_process_due(
    *, now=None, concurrency: int | None = None, processes: int | None = None, batch: int = 10_000
) -> ProcessReport:
    """The first seed's processing loop: yield due subscription invoices, apply ended
    grace periods, then attempt every due transaction. One loop runs at a time."""
    now = now or timezone.now()
    report = ProcessReport()
    holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
    if not _lease_take("process_transactions", holder, 600):
        report.skipped_busy = True
        return report
    try:
        report.invoices_issued = subscriptions_yield_invoices(now=now)
        report.final_actions = invoices_apply_grace(now=now)
        if concurrency is None:
            concurrency = settings.BILLING_CONCURRENCY
        processes = settings.BILLING_PROCESSES if processes is None else processes
        if connection.vendor == "sqlite":
            concurrency, processes = 1, 1  # SQLite has one writer; threads would only wait on each other
        seen = set()
        while True:
            ids = [i for i in transactions_due_ids(now=now, limit=batch) if i not in seen]
            if not ids:
                break
            seen.update(ids)
            if processes > 1 and len(ids) > processes:
                _run_in_processes(ids, now, concurrency, processes, report)
            else:
                _run_all(ids, now, concurrency, report)
            _lease_take("process_transactions", holder, 600)
    finally:
        _lease_release("process_transactions", holder)
    return report


def _run_all(ids, now, concurrency, report) -> None:
    """This thread claims the transactions a batch at a time (step 1, one database
    transaction per batch); `concurrency` sender threads call Stripe and record the
    answers (steps 2 and 3). The hand-over queue is short, so an attempt waits a moment
    between its claim and its call, never a whole backlog. With a concurrency of 1 this
    thread sends each claim itself, in batches of one."""
    lock = threading.Lock()

    def count(result):
        with lock:
            report.count(result)

    def send(pair):
        count(_send_and_record_safely(*pair, now))

    threads = []
    if concurrency > 1:
        claimed: queue.Queue = queue.Queue(maxsize=max(1, concurrency // 2))

        def sender():
            try:
                while (pair := claimed.get()) is not None:
                    send(pair)
            finally:
                connection.close()

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(min(concurrency, len(ids)))]
        for thread in threads:
            thread.start()
    hand_over = claimed.put if threads else send
    try:
        size = max(1, concurrency // 2)
        for offset in range(0, len(ids), size):
            pairs, why = _claim_batch_safely(ids[offset : offset + size], now)
            for result in why.values():
                count(result)
            for pair in pairs:
                hand_over(pair)
    finally:
        for _ in threads:
            claimed.put(None)
        for thread in threads:
            thread.join()


def _run_in_processes(ids, now, concurrency, processes, report) -> None:
    """Python runs one thread at a time per process, so a big backlog is split over
    forked processes (PostgreSQL only), each with its threads, its own database
    connections and its share of the Stripe rate."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # a forked child must never reuse the parent's socket
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    shards = [ids[k::processes] for k in range(processes)]

    def child(shard):
        gateway.rate_share = processes
        sub = ProcessReport()
        try:
            _run_all(shard, now, concurrency, sub)
        finally:
            connections.close_all()
            results.put(sub.results)

    children = [ctx.Process(target=child, args=(shard,), daemon=True) for shard in shards if shard]
    for proc in children:
        proc.start()
    for _ in children:
        for result, count in results.get().items():
            report.results[result] = report.results.get(result, 0) + count
    for proc in children:
        proc.join()


def _claim_batch_safely(ids, now) -> tuple[list, dict[int, AttemptResult]]:
    """Claim a batch; if that fails, claim its transactions one by one, so that one bad
    transaction holds up only itself."""
    try:
        return claim_many(ids, now)
    except Exception:
        logger.exception("Claiming transactions %s..%s together failed; one by one", ids[0], ids[-1])
    pairs, why = [], {}
    for txn_id in ids:
        try:
            claimed = claim(txn_id, now)
        except Exception:
            logger.exception("Transaction %s could not be claimed", txn_id)
            claimed = AttemptResult.ERROR
        if isinstance(claimed, AttemptResult):
            why[txn_id] = claimed
        else:
            pairs.append(claimed)
    return pairs, why


def _send_and_record_safely(txn, attempt, now) -> AttemptResult:
    try:
        return send_and_record(txn, attempt, now)
    except Exception:
        logger.exception("Transaction %s could not be attempted", txn.pk)
        return AttemptResult.ERROR
