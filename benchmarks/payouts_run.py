"""
How long does a payout run take for a big backlog, and how close is it to hand-written SQL?

Loads --earnings completed earnings (1,000,000 by default) across --sellers sellers
(10,000) into a throwaway PostgreSQL database (10% in EUR, completions spread over 40
days so about three quarters are available by the payout date), then:

  1. times the product's run (`payouts.services.payout_run_create`, what
     `manage.py run_payouts --date D` and beat call) for one date;
  2. puts the database back as it was and times hand-written raw SQL that produces the
     same result, one statement per table written: the run row, the payouts, the
     earnings marked paid, the ledger accounts, the journals and the entries;
  3. checks both wrote the same thing (payout rows, which earnings each payout took,
     every account balance, journal and entry totals) and prints the three figures.

Targets: the product's run under 60 s, peak memory (this process's max RSS) under 300 MB,
within 3x of the raw SQL time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marketplace python benchmarks/payouts_run.py
"""

import argparse
import resource
import time
from datetime import timedelta

from _django import benchmark_database


def load(cursor, *, sellers: int, earnings: int):
    cursor.execute(
        """
        INSERT INTO accounts_user (password, is_superuser, email, full_name, role, is_staff, is_active, date_joined)
        SELECT '!', false, 'seller' || g || '@bench.test', 'Seller ' || g, 'seller', false, true, now()
        FROM generate_series(1, %s) g
        """,
        [sellers],
    )
    cursor.execute(
        """
        INSERT INTO accounts_user (password, is_superuser, email, full_name, role, is_staff, is_active, date_joined)
        VALUES ('!', false, 'buyer@bench.test', 'Bench Buyer', 'buyer', false, true, now()) RETURNING id
        """
    )
    buyer = cursor.fetchone()[0]
    cursor.execute("SELECT min(id) FROM accounts_user WHERE role = 'seller'")
    first_seller = cursor.fetchone()[0]
    # Every seller set up bank details long ago, except every 100th, who never did: the
    # run carries that seller's balance forward.
    cursor.execute(
        """
        INSERT INTO payouts_payoutaccount (seller_id, provider, stripe_account_id, stripe_payouts_enabled,
            stripe_details_submitted, stripe_requirements_due, stripe_disabled_reason, bank_scheme, holder_name,
            iban, bic, routing_number, account_number, on_hold, hold_reason, updated_at)
        SELECT id, 'manual', '', false, false, '[]', '', 'iban', full_name, 'DE89370400440532013000',
            'COBADEFFXXX', '', '', false, '', now()
        FROM accounts_user WHERE role = 'seller' AND (id - %s) %% 100 <> 99
        """,
        [first_seller],
    )
    cursor.execute(
        """
        INSERT INTO orders_order (total_amount, currency, status, status_changed_at, confirmation_round,
            buyer_reminded_round, seller_reminded_round, carrier, tracking_number, refund_reason, amount_refunded,
            created_at, completed_at, buyer_id, seller_id)
        SELECT 1000 + (g::bigint * 7919) %% 20000, CASE WHEN g %% 10 = 0 THEN 'EUR' ELSE 'USD' END, 'completed', now(),
            1, 0, 0, '', '', '', 0, now(),
            now() - (((g / %s) %% 40) || ' days')::interval - ((g %% 1440) || ' minutes')::interval,
            %s, %s + (g %% %s)
        FROM generate_series(1, %s) g
        """,
        [sellers, buyer, first_seller, sellers, earnings],
    )
    cursor.execute(
        """
        INSERT INTO payouts_earning (kind, currency, gross_amount, fee_amount, fee_bps, amount, delay_days,
            completed_at, available_on, description, reference, created_at, order_id, seller_id)
        SELECT 'sale', currency, total_amount, (total_amount * 1000 + 5000) / 10000, 1000,
            total_amount - (total_amount * 1000 + 5000) / 10000, 7, completed_at,
            (completed_at AT TIME ZONE 'UTC')::date + 7, 'Order #' || id, '', now(), id, seller_id
        FROM orders_order
        """
    )
    _reset_balances(cursor)
    cursor.execute("ANALYZE")


def _reset_balances(cursor):
    """Seller balances = their unpaid earnings (the earning journals themselves are not
    loaded: a run neither reads nor writes them)."""
    cursor.execute("DELETE FROM payouts_ledgeraccount")
    cursor.execute(
        """
        INSERT INTO payouts_ledgeraccount (key, kind, currency, balance, seller_id)
        SELECT 'seller_balance:' || currency || ':' || seller_id, 'seller_balance', currency, sum(amount), seller_id
        FROM payouts_earning GROUP BY seller_id, currency
        """
    )


def reset(cursor):
    cursor.execute("DELETE FROM payouts_entry")
    cursor.execute("DELETE FROM payouts_journal")
    cursor.execute("UPDATE payouts_earning SET payout_id = NULL WHERE payout_id IS NOT NULL")
    cursor.execute("DELETE FROM django_fsm_log_statelog")
    cursor.execute("DELETE FROM payouts_payout")
    cursor.execute("DELETE FROM payouts_payoutrun")
    _reset_balances(cursor)


def vacuum(connection):
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


RAW_SQL = [
    # payoutrun
    """
    INSERT INTO payouts_payoutrun (payout_date, status, cursor_seller_id, paused, payouts_created, lines_paid,
        below_minimum, on_hold, not_positive, started_at, finished_at)
    VALUES (%(d)s, 'done', 0, false, 0, 0, 0, 0, 0, now(), now())
    """,
    # payout: one per seller and currency with a positive total, skipping sellers who
    # cannot be paid (here: on hold, or no bank details)
    """
    INSERT INTO payouts_payout (seller_id, currency, payout_date, amount, status, provider, idempotency_key,
        transfer_group, provider_reference, failure_reason, transfer_problem, created_at, run_id)
    SELECT e.seller_id, e.currency, %(d)s, sum(e.amount), 'scheduled', 'manual',
        %(ns)s || ':payout-' || e.seller_id || '-' || e.currency || '-' || %(d)s::text,
        'payout-' || %(d)s::text || '-' || e.seller_id, '', '', '', now(),
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--earnings", type=int, default=1_000_000)
    parser.add_argument("--sellers", type=int, default=10_000)
    parser.add_argument(
        "--profile", action="store_true", help="Print where the product's run spends its time."
    )
    args = parser.parse_args()

    with benchmark_database() as connection:
        if connection.vendor != "postgresql":
            raise SystemExit("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
        from django.conf import settings

        from finance.models import PayoutCycleSettings
        from payouts.services import payout_run_create

        config = PayoutCycleSettings.load()
        payout_date = config.today() - timedelta(days=3)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            load(cursor, sellers=args.sellers, earnings=args.earnings)
            cursor.execute("SELECT count(*) FROM payouts_earning WHERE available_on <= %s", [payout_date])
            available = cursor.fetchone()[0]
        vacuum(connection)
        print(
            f"Loaded {args.earnings:,} earnings across {args.sellers:,} sellers in {time.perf_counter() - started:.1f} s; "
            f"{available:,} available by {payout_date}."
        )

        started = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            report = profiler.runcall(payout_run_create, payout_date=payout_date)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        else:
            report = payout_run_create(payout_date=payout_date)
        product_seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with connection.cursor() as cursor:
            product = fingerprint(cursor)
            reset(cursor)
        vacuum(connection)

        params = {
            "d": payout_date,
            "ns": settings.STRIPE_IDEMPOTENCY_NAMESPACE,
            "minimum": config.minimum_payout_amount,
        }
        started = time.perf_counter()
        from django.db import transaction

        with transaction.atomic(), connection.cursor() as cursor:
            for sql in RAW_SQL:
                cursor.execute(sql, params)
        raw_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            raw = fingerprint(cursor)

        same = product == raw
        print(f"Payouts built: {report.payouts:,}; earnings paid: {report.lines:,}")
        print(f"run_payouts (product):  {product_seconds:7.2f} s   target < 60 s")
        print(f"peak memory (max RSS):  {peak_mb:7.1f} MB  target < 300 MB")
        print(
            f"raw SQL, same result:   {raw_seconds:7.2f} s   product is {product_seconds / raw_seconds:.2f}x (target <= 3x)"
        )
        print(f"same rows written: {'yes' if same else 'NO'}")
        if not same:
            for key in product:
                if product[key] != raw[key]:
                    print(f"  {key}: product {product[key]} vs raw {raw[key]}")
            raise SystemExit(1)


if __name__ == "__main__":
    main()
