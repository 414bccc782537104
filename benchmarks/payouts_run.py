"""
How long does a payout run take for a big backlog, in one process and spread over Celery
workers, and how close is it to hand-written SQL?

Loads --earnings completed earnings (3,000,000 by default) across --sellers sellers
(30,000) with their orders, earning journals and entries into a template database (10%
in EUR, completions spread over 40 days so about three quarters are available by the
payout date). Every timed run starts from a fresh copy of it (CREATE DATABASE … TEMPLATE),
so no run inherits another's dead rows or warm cache order. Then:

  1. --rounds rounds of: the product's run in this process (`payout_run_create`, what
     `manage.py run_payouts --date D` runs) and hand-written raw SQL producing the same
     result, the product first in even rounds and the raw SQL first in odd ones, with
     both ratios printed, and the rows both wrote compared;
  2. for each count in --workers (1,2,1,2,1,2 by default: one run can be 15% off the
     next on a shared machine, so each count is timed three times, interleaved, and the
     medians compared), that many Celery worker processes (Redis, DEBUG off as in
     production) building the chunks `payout_run_start` sends them, timed from the start
     to the run's close, with each worker's peak memory and how long each waited idle at
     the end;
  3. with --admin-lists, on the database the last run left (payouts built, journals
     written), the admin change lists of earnings, payouts, journals, ledger accounts,
     payout accounts, payout runs and sellers with money waiting, page 1 and a filter or
     search each (medians through Django's stack, as benchmarks/orders_page.py does).

Targets: 3M earnings / 30k sellers under 60 s with one worker; two workers at most 0.6x
the one-worker time on this 2-core machine; under 300 MB per process; within 3x of raw SQL; admin lists under 200 ms median.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mp_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/5 \
        BENCH_KEEP=1 python benchmarks/payouts_run.py
"""

import argparse
import json
import resource
import secrets
import statistics
import time
from datetime import timedelta

from _django import benchmark_database, database_clone, database_drop, use_database

RAW_SQL = [
    # payoutrun
    """
    INSERT INTO payouts_payoutrun (payout_date, status, cursor_seller_id, paused, payouts_created, lines_paid,
        below_minimum, on_hold, not_positive, started_at, finished_at)
    VALUES (%(d)s, 'done', 0, false, 0, 0, 0, 0, 0, now(), now())
    """,
    # payout: one per seller and currency with a positive total, skipping sellers who cannot
    # be paid (here: on hold, or no bank details)
    """
    INSERT INTO payouts_payout (seller_id, currency, payout_date, amount, status, provider, idempotency_key,
        transfer_group, provider_reference, failure_reason, transfer_problem, export_count, destination_scheme,
        destination_holder_name, destination_account, destination_bank_code, created_at, run_id)
    SELECT e.seller_id, e.currency, %(d)s, sum(e.amount), 'scheduled', 'manual',
        %(ns)s || ':payout-' || e.seller_id || '-' || e.currency || '-' || %(d)s::text,
        'payout-' || %(d)s::text || '-' || e.seller_id, '', '', '', 0, '', '', '', '', now(),
        (SELECT id FROM payouts_payoutrun WHERE payout_date = %(d)s)
    FROM payouts_earning e
    WHERE e.payout_id IS NULL AND e.reversed_at IS NULL AND e.available_on <= %(d)s
      AND EXISTS (SELECT 1 FROM payouts_payoutaccount a WHERE a.seller_id = e.seller_id AND NOT a.on_hold
                  AND a.provider = 'manual' AND a.holder_name <> '' AND a.iban <> ''
                  AND (a.cooling_off_through IS NULL OR a.cooling_off_through < %(d)s))
    GROUP BY e.seller_id, e.currency
    HAVING sum(e.amount) > 0 AND sum(e.amount) >= %(minimum)s
    ORDER BY e.seller_id, e.currency
    """,
    # earning: every line the payouts take
    """
    UPDATE payouts_earning e SET payout_id = p.id
    FROM payouts_payout p
    WHERE p.payout_date = %(d)s AND p.seller_id = e.seller_id AND p.currency = e.currency
      AND e.payout_id IS NULL AND e.reversed_at IS NULL AND e.available_on <= %(d)s
    """,
    # ledgeraccount: seller balances down, payouts in transit up (created when new)
    """
    INSERT INTO payouts_ledgeraccount (key, kind, currency, balance, seller_id)
    SELECT 'seller_balance:' || currency || ':' || seller_id, 'seller_balance', currency, -amount, seller_id
    FROM payouts_payout WHERE payout_date = %(d)s
    UNION ALL
    SELECT 'payouts_in_transit:' || currency, 'payouts_in_transit', currency, sum(amount), NULL
    FROM payouts_payout WHERE payout_date = %(d)s GROUP BY currency
    ON CONFLICT (key) DO UPDATE SET balance = payouts_ledgeraccount.balance + EXCLUDED.balance
    """,
    # journal: one per payout
    """
    INSERT INTO payouts_journal (kind, description, created_at, payout_id)
    SELECT 'payout', 'Payout #' || id || ' of ' || payout_date::text, now(), id
    FROM payouts_payout WHERE payout_date = %(d)s ORDER BY id
    """,
    # entry: two per journal
    """
    INSERT INTO payouts_entry (amount, journal_id, account_id)
    SELECT -p.amount, j.id, s.id FROM payouts_journal j
      JOIN payouts_payout p ON p.id = j.payout_id
      JOIN payouts_ledgeraccount s ON s.key = 'seller_balance:' || p.currency || ':' || p.seller_id
    WHERE j.kind = 'payout' AND p.payout_date = %(d)s
    UNION ALL
    SELECT p.amount, j.id, t.id FROM payouts_journal j
      JOIN payouts_payout p ON p.id = j.payout_id
      JOIN payouts_ledgeraccount t ON t.key = 'payouts_in_transit:' || p.currency
    WHERE j.kind = 'payout' AND p.payout_date = %(d)s
    """,
]


def fingerprint(cursor) -> dict:
    queries = {
        "payouts": """SELECT count(*), md5(string_agg(seller_id || ':' || currency || ':' || amount || ':' || status
                        || ':' || transfer_group || ':' || idempotency_key, ',' ORDER BY seller_id, currency))
                      FROM payouts_payout""",
        "earnings paid": """SELECT count(*), md5(string_agg(e.id || ':' || p.seller_id || ':' || p.currency, ','
                        ORDER BY e.id)) FROM payouts_earning e JOIN payouts_payout p ON p.id = e.payout_id""",
        "balances": """SELECT count(*), md5(string_agg(key || '=' || balance, ',' ORDER BY key)) FROM payouts_ledgeraccount""",
        "journals": "SELECT count(*), count(DISTINCT payout_id) FROM payouts_journal",
        "entries": "SELECT count(*), sum(amount) FROM payouts_entry",
        "run": "SELECT count(*), max(payout_date)::text FROM payouts_payoutrun WHERE status = 'done'",
    }
    result = {}
    for name, sql in queries.items():
        cursor.execute(sql)
        result[name] = cursor.fetchone()
    return result


def run_product(payout_date):
    from payouts.services import payout_run_create

    started = time.perf_counter()
    report = payout_run_create(payout_date=payout_date)
    return time.perf_counter() - started, report


def run_raw(connection, params):
    from django.db import transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in RAW_SQL:
            cursor.execute(sql, params)
    return time.perf_counter() - started


def _peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# The workers run as in production (DEBUG=0, as docker-compose.yml runs them), with keys
# made up for the run: with DEBUG on, Django would keep and format every query a worker sends.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "STRIPE_SECRET_KEY": "sk_test_" + secrets.token_urlsafe(32),
    "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(32),
}


def run_workers(*, database: str, payout_date, count: int, chunk_size: int):
    """`count` Celery worker processes build the run's chunks; seconds from the start (once
    every worker answers) to the run's close, and each worker's peak memory."""
    from celery import current_app

    from marketplace.tests.workers import CeleryWorkers, database_url
    from payouts.models import PayoutRun
    from payouts.services import payout_run_start
    from payouts.tasks import run_payout_chunk

    current_app.conf.task_always_eager = False
    apply_async = run_payout_chunk.apply_async
    with CeleryWorkers(count, database=database_url(database), label="bench", env=PRODUCTION_ENV) as workers:
        run_payout_chunk.apply_async = lambda *a, **kw: apply_async(*a, queue=workers.queue, **kw)
        try:
            started = time.perf_counter()
            run = payout_run_start(payout_date=payout_date, chunk_size=chunk_size)
            while not PayoutRun.objects.filter(pk=run.pk, status=PayoutRun.Status.DONE).exists():
                workers.check_alive()
                time.sleep(0.1)
            seconds = time.perf_counter() - started
            peaks = [_peak_mb(w.pid) for w in workers.processes]
        finally:
            run_payout_chunk.apply_async = apply_async
    return seconds, peaks, _chunks_by_process(run.pk)


def _chunks_by_process(run_id: int) -> str:
    """How many chunks each process built, and how long before the run closed each one
    finished its last (the time it waited idle while another built the last chunk)."""
    from django.db.models import Count, Max

    from payouts.models import PayoutRun

    run = PayoutRun.objects.get(pk=run_id)
    rows = run.chunks.values("done_by").annotate(n=Count("id"), last=Max("done_at")).order_by("done_by")
    return "; ".join(
        f"{row['n']} chunks, idle {(run.finished_at - row['last']).total_seconds():.1f} s at the end"
        for row in rows
    )


ADMIN_LISTS = [
    ("earnings", "admin:payouts_earning_changelist", ""),
    ("earnings, kind filter", "admin:payouts_earning_changelist", "?kind__exact=sale"),
    ("earnings, not yet paid", "admin:payouts_earning_changelist", "?payout__isempty=1"),
    ("payouts", "admin:payouts_payout_changelist", ""),
    ("payouts, status filter", "admin:payouts_payout_changelist", "?status__exact=scheduled"),
    ("payouts, seller search", "admin:payouts_payout_changelist", "?q=seller777@"),
    ("journals", "admin:payouts_journal_changelist", ""),
    ("journals, kind filter", "admin:payouts_journal_changelist", "?kind__exact=payout"),
    ("ledger accounts", "admin:payouts_ledgeraccount_changelist", ""),
    ("payout accounts", "admin:payouts_payoutaccount_changelist", ""),
    ("payout runs", "admin:payouts_payoutrun_changelist", ""),
    ("sellers with money waiting", "admin:payouts_sellermoneywaiting_changelist", ""),
]


def admin_lists_measure(*, runs: int = 7) -> dict:
    from django.test import Client
    from django.urls import reverse
    from orders_page import measure

    from accounts.models import User

    staff, _ = User.objects.get_or_create(
        email="staff@bench.test", defaults={"role": "buyer", "is_staff": True, "is_superuser": True}
    )
    # The run just wrote 30k payouts and their journals: autovacuum would analyze them
    # within a minute, but it may be off on a benchmark machine, and a planner that still
    # thinks the payouts table empty sorts every payout for a filtered page.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE payouts_payout, payouts_journal, payouts_entry, payouts_earning")
    client = Client()
    client.force_login(staff)
    results = {}
    for name, url, query in ADMIN_LISTS:
        results[name] = measure(client, reverse(url) + query, runs)
        r = results[name]
        print(
            f"  admin {name:30s} {r['median']:7.1f} ms median  (p95 {r['p95']:7.1f})  {r['queries']:3d} queries"
        )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--earnings", type=int, default=3_000_000)
    parser.add_argument("--sellers", type=int, default=30_000)
    parser.add_argument(
        "--rounds", type=int, default=2, help="Product/raw SQL rounds, alternating who goes first."
    )
    parser.add_argument(
        "--workers",
        default="1,2,1,2,1,2",
        help="Celery worker counts to time, in this order (empty: none); a count given more than once "
        "is compared by its median.",
    )
    parser.add_argument("--chunk-size", type=int, default=2_000)
    parser.add_argument(
        "--admin-lists", action="store_true", help="Also time the payouts admin lists after the last run."
    )
    parser.add_argument("--json", help="Also write the figures to this file (for benchmarks/chart.py).")
    args = parser.parse_args()

    import bench_data

    figures = {"earnings": args.earnings, "sellers": args.sellers}
    with benchmark_database(f"payouts_{args.earnings}") as (connection, fresh):
        if connection.vendor != "postgresql":
            raise SystemExit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
        from django.conf import settings

        from finance.models import PayoutCycleSettings

        template = connection.settings_dict["NAME"]
        config = PayoutCycleSettings.load()
        payout_date = config.today() - timedelta(days=3)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            if fresh:
                bench_data.payouts_load(cursor, sellers=args.sellers, earnings=args.earnings)
            cursor.execute("SELECT NOT EXISTS (SELECT 1 FROM payouts_payoutaccount)")
            if cursor.fetchone()[0]:  # kept from before sellers had payout accounts
                bench_data.payout_accounts_load(cursor)
                fresh = True
        if fresh:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM payouts_earning WHERE available_on <= %s", [payout_date])
            available = cursor.fetchone()[0]
        print(f"{args.earnings:,} earnings across {args.sellers:,} sellers "
              f"({'loaded' if fresh else 'reused'} in {time.perf_counter() - started:.1f} s); "
              f"{available:,} available by {payout_date}.")  # fmt: skip
        params = {"d": payout_date, "ns": settings.STRIPE_IDEMPOTENCY_NAMESPACE,
                  "minimum": config.minimum_payout_amount}  # fmt: skip
        work = f"{template}_run"

        def fresh_copy():
            use_database(connection, template)
            database_clone(connection, template=template, name=work)
            use_database(connection, work)

        ratios, product_times = [], []
        for round_ in range(args.rounds):
            sides = ["product", "raw"] if round_ % 2 == 0 else ["raw", "product"]
            times, prints = {}, {}
            for side in sides:
                fresh_copy()
                if side == "product":
                    times[side], report = run_product(payout_date)
                    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                else:
                    times[side] = run_raw(connection, params)
                with connection.cursor() as cursor:
                    prints[side] = fingerprint(cursor)
            same = prints["product"] == prints["raw"]
            ratio = times["product"] / times["raw"]
            ratios.append((sides[0], ratio))
            product_times.append(times["product"])
            print(f"round {round_ + 1} ({sides[0]} first): product {times['product']:6.2f} s, "
                  f"raw SQL {times['raw']:6.2f} s, product is {ratio:.2f}x; same rows: {'yes' if same else 'NO'}")  # fmt: skip
            if not same:
                for key in prints["product"]:
                    if prints["product"][key] != prints["raw"][key]:
                        print(f"  {key}: product {prints['product'][key]} vs raw {prints['raw'][key]}")
        if ratios:
            print(f"Payouts built: {report.payouts:,}; earnings paid: {report.lines:,}")
            print(f"run_payouts, one process: {min(product_times):6.2f}–{max(product_times):6.2f} s; "
                  f"peak memory (max RSS) {peak:.0f} MB")  # fmt: skip
            for first, ratio in ratios:
                print(f"  ratio to raw SQL with the {first} first: {ratio:.2f}x (target <= 3x)")
        figures["one_process_s"] = product_times
        figures["ratios"] = ratios
        worker_runs: dict[int, list[float]] = {}
        for count in [int(c) for c in args.workers.split(",") if c]:
            fresh_copy()
            seconds, peaks, chunks = run_workers(
                database=work, payout_date=payout_date, count=count, chunk_size=args.chunk_size
            )
            worker_runs.setdefault(count, []).append(seconds)
            print(f"{count} Celery worker(s): {seconds:6.2f} s; peak memory per worker "
                  f"{', '.join(f'{p:.0f}' for p in peaks)} MB")  # fmt: skip
            print(f"  per worker: {chunks}")
        # A count given more than once (--workers 1,2,1,2,1,2) is timed that many times,
        # interleaved: the medians are compared, since one run can be 15% off another.
        figures["workers"] = {count: statistics.median(runs) for count, runs in worker_runs.items()}
        figures["worker_runs"] = worker_runs
        for count, runs in worker_runs.items():
            if len(runs) > 1:
                print(f"{count} Celery worker(s), {len(runs)} runs: median {statistics.median(runs):.2f} s "
                      f"({min(runs):.2f}–{max(runs):.2f})")  # fmt: skip
        if 1 in figures["workers"]:
            for count, seconds in figures["workers"].items():
                if count != 1:
                    print(
                        f"  {count} workers take {seconds / figures['workers'][1]:.2f}x the one-worker time"
                        f"{' (medians)' if len(worker_runs[1]) > 1 else ''} (target <= 0.6x for 2)"
                    )
        if args.admin_lists and (ratios or figures["workers"]):
            print("Admin lists on the database the last run left (target < 200 ms median):")
            figures["admin_lists"] = admin_lists_measure()
        use_database(connection, template)
        database_drop(connection, work)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=1)


if __name__ == "__main__":
    main()
