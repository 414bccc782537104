"""
The processing loop (the first seed's): yield due subscription invoices, apply ended
grace periods, then attempt every due transaction, a batch of claims at a time, with
sender threads and, for a big backlog on PostgreSQL, forked processes.
"""

import logging
import queue
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils import timezone

from stripe_integration import pacer

from .selectors import transactions_due_ids
from .services.charging import AttemptResult, claim, claim_many, send_and_record
from .services.dunning import invoices_apply_grace
from .services.subscriptions import subscriptions_yield_invoices
from .single_runner import single_runner

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


def transactions_process_due(
    *, now=None, concurrency: int | None = None, processes: int | None = None, batch: int = 10_000
) -> ProcessReport:
    """The first seed's processing loop: yield due subscription invoices, apply ended
    grace periods, then attempt every due transaction. One loop runs at a time
    (billing.single_runner); a second one reports `skipped_busy` and does nothing."""
    now = now or timezone.now()
    report = ProcessReport()
    with single_runner("process_transactions") as guard:
        if guard is None:
            report.skipped_busy = True
            return report
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
            if not guard.still_held():
                # Another run may have started; it carries on from here (claims never
                # send a charge twice, but two loops would only get in each other's way).
                logger.warning("process_transactions lost its single-runner guard; stopping after this batch")
                break
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

    # A forked child must never reuse the parent's socket. The single-runner lock's
    # connection is not among these: it stays open, and the children leave it alone.
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    shards = [ids[k::processes] for k in range(processes)]

    def child(shard):
        pacer.rate_share = processes
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
