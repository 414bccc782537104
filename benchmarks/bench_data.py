"""
Benchmark data written straight into PostgreSQL with `generate_series`, so a million
orders load in about a minute instead of an hour of ORM saves.

- `orders_grow_to(cursor, total)`: orders (one item, one invoice behind each, one charge
  per invoice), 90% of them from one big seller, the rest across 1,000 sellers, bought by
  10,000 buyers, created one every 45 seconds (the newest last). Grows the table: 10k, then
  100k, then 1M reuse what is there.
- `payouts_load(cursor, sellers, earnings)`: completed orders with their sale earnings,
  the earning journals and entries, and seller balances that match them.
"""

ORDER_STATUSES = """CASE g % 20
    WHEN 0 THEN 'pending_payment' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped'
    WHEN 3 THEN 'pending_customer_confirmation' WHEN 4 THEN 'pending_seller_action'
    WHEN 5 THEN 'refunded' WHEN 6 THEN 'canceled' ELSE 'completed' END"""

BIG_SELLER_EMAIL = "big-seller@bench.test"
OTHER_SELLERS = 1_000
BUYERS = 10_000


def _users(cursor, *, role: str, prefix: str, count: int) -> None:
    cursor.execute(
        """
        INSERT INTO accounts_user (password, is_superuser, email, full_name, role, is_staff, is_active, date_joined)
        SELECT '!', false, %s || g || '@bench.test', initcap(%s) || ' ' || g, %s, false, true, now()
        FROM generate_series(1, %s) g
        """,
        [prefix, prefix, role, count],
    )


def _ensure_people(cursor) -> tuple[int, int, int]:
    """(big seller id, first other seller id, first buyer id), created once."""
    cursor.execute("SELECT id FROM accounts_user WHERE email = %s", [BIG_SELLER_EMAIL])
    row = cursor.fetchone()
    if row is None:
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, email, full_name, role, is_staff, is_active,
                date_joined)
            VALUES ('!', false, %s, 'Big Seller', 'seller', false, true, now())
            """,
            [BIG_SELLER_EMAIL],
        )
        _users(cursor, role="seller", prefix="seller", count=OTHER_SELLERS)
        _users(cursor, role="buyer", prefix="buyer", count=BUYERS)
        cursor.execute(
            """
            INSERT INTO billing_customer (created_at, user_id)
            SELECT now(), id FROM accounts_user WHERE email LIKE 'buyer%%@bench.test'
            """
        )
    cursor.execute("SELECT id FROM accounts_user WHERE email = %s", [BIG_SELLER_EMAIL])
    big = cursor.fetchone()[0]
    cursor.execute("SELECT min(id) FROM accounts_user WHERE email LIKE 'seller%%@bench.test'")
    sellers = cursor.fetchone()[0]
    cursor.execute("SELECT min(id) FROM accounts_user WHERE email LIKE 'buyer%%@bench.test'")
    buyers = cursor.fetchone()[0]
    return big, sellers, buyers


def orders_count(cursor) -> int:
    cursor.execute("SELECT count(*) FROM orders_order")
    return cursor.fetchone()[0]


def orders_grow_to(cursor, total: int) -> int:
    """Add orders (numbered on from what is there) until the table holds `total`; returns
    how many the big seller has."""
    big, sellers, buyers = _ensure_people(cursor)
    have = orders_count(cursor)
    if have < total:
        params = {
            "first": have + 1,
            "last": total,
            "big": big,
            "sellers": sellers,
            "n_sellers": OTHER_SELLERS,
            "buyers": buyers,
            "n_buyers": BUYERS,
        }
        # Every tenth order is from one of the other sellers; the rest from the big one.
        cursor.execute(
            f"""
            INSERT INTO orders_order (total_amount, currency, status, status_changed_at, confirmation_round,
                buyer_reminded_round, seller_reminded_round, carrier, tracking_number, refund_reason,
                amount_refunded, created_at, paid_at, completed_at, buyer_id, seller_id)
            SELECT 500 + (g::bigint * 7919) %% 20000, CASE WHEN g %% 10 = 3 THEN 'EUR' ELSE 'USD' END,
                {ORDER_STATUSES.replace("%", "%%")}, ts + interval '2 days', 1, 0, 0, '', '', '', 0, ts,
                CASE WHEN g %% 20 NOT IN (0, 6) THEN ts + interval '1 minute' END,
                CASE WHEN g %% 20 >= 7 THEN ts + interval '5 days' END,
                %(buyers)s + (g %% %(n_buyers)s),
                CASE WHEN g %% 10 = 0 THEN %(sellers)s + (g / 10) %% %(n_sellers)s ELSE %(big)s END
            FROM generate_series(%(first)s, %(last)s) g,
                LATERAL (SELECT timestamptz '2025-01-01 00:00+00' + g * interval '45 seconds' AS ts) t
            ORDER BY g
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO orders_orderitem (title, quantity, unit_amount, order_id)
            SELECT 'Item of order ' || o.id, 1, o.total_amount, o.id
            FROM orders_order o WHERE NOT EXISTS (SELECT 1 FROM orders_orderitem i WHERE i.order_id = o.id)
            """
        )
        cursor.execute(
            """
            INSERT INTO billing_invoice (status, currency, total_amount, amount_refunded, created_at, settled_at,
                canceled_at, customer_id, order_id)
            SELECT CASE o.status WHEN 'pending_payment' THEN 'processing' WHEN 'canceled' THEN 'canceled'
                    WHEN 'refunded' THEN 'refunded' ELSE 'settled' END,
                o.currency, o.total_amount, 0, o.created_at, o.paid_at,
                CASE WHEN o.status = 'canceled' THEN o.status_changed_at END, c.id, o.id
            FROM orders_order o JOIN billing_customer c ON c.user_id = o.buyer_id
            WHERE o.id >= (SELECT coalesce(max(order_id), 0) + 1 FROM billing_invoice)
            ORDER BY o.id
            """
        )
        cursor.execute(
            """
            INSERT INTO billing_transaction (kind, status, amount, currency, reason, failure_count, next_attempt_at,
                transport_failures, stripe_id, last_category, last_message, created_at, done_at, invoice_id)
            SELECT 'charge', CASE i.status WHEN 'processing' THEN 'retrying' WHEN 'canceled' THEN 'canceled'
                    ELSE 'done' END,
                i.total_amount, i.currency, '', 0, i.created_at, 0, 'pi_bench_' || i.id, '', '', i.created_at,
                i.settled_at, i.id
            FROM billing_invoice i
            WHERE i.id >= (SELECT coalesce(max(invoice_id), 0) + 1 FROM billing_transaction)
            ORDER BY i.id
            """
        )
        cursor.execute("ANALYZE")
    cursor.execute("SELECT count(*) FROM orders_order WHERE seller_id = %s", [big])
    return cursor.fetchone()[0]


def payout_accounts_load(cursor) -> None:
    """Every seller set up bank details long ago, except every 100th, who never did: a run
    carries that seller's balance forward (payouts.payability). Also run on data kept from
    before sellers had payout accounts, which no run could pay."""
    cursor.execute("SELECT min(id) FROM accounts_user WHERE role = 'seller'")
    first_seller = cursor.fetchone()[0]
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


def payouts_load(cursor, *, sellers: int, earnings: int) -> None:
    """`earnings` completed orders across `sellers` sellers (10% in EUR, completions spread
    over 40 days so about three quarters are available a few days ago), each with its sale
    earning, the earning's journal (seller balance up, platform cash down) and seller
    balances equal to their unpaid earnings."""
    _users(cursor, role="seller", prefix="seller", count=sellers)
    cursor.execute(
        """
        INSERT INTO accounts_user (password, is_superuser, email, full_name, role, is_staff, is_active, date_joined)
        VALUES ('!', false, 'buyer@bench.test', 'Bench Buyer', 'buyer', false, true, now()) RETURNING id
        """
    )
    buyer = cursor.fetchone()[0]
    cursor.execute("SELECT min(id) FROM accounts_user WHERE role = 'seller'")
    first_seller = cursor.fetchone()[0]
    payout_accounts_load(cursor)
    cursor.execute(
        """
        INSERT INTO orders_order (total_amount, currency, status, status_changed_at, confirmation_round,
            buyer_reminded_round, seller_reminded_round, carrier, tracking_number, refund_reason,
            amount_refunded, created_at, completed_at, buyer_id, seller_id)
        SELECT 1000 + (g::bigint * 7919) %% 20000, CASE WHEN g %% 10 = 0 THEN 'EUR' ELSE 'USD' END, 'completed',
            now(), 1, 0, 0, '', '', '', 0, now(),
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
        FROM orders_order ORDER BY id
        """
    )
    cursor.execute(
        """
        INSERT INTO payouts_ledgeraccount (key, kind, currency, balance, seller_id)
        SELECT 'seller_balance:' || currency || ':' || seller_id, 'seller_balance', currency, sum(amount), seller_id
        FROM payouts_earning GROUP BY seller_id, currency
        UNION ALL
        SELECT 'platform_cash:' || currency, 'platform_cash', currency, -sum(amount), NULL
        FROM payouts_earning GROUP BY currency
        """
    )
    cursor.execute(
        """
        INSERT INTO payouts_journal (kind, description, created_at, earning_id)
        SELECT 'earning', 'Order #' || order_id || ' completed', completed_at, id FROM payouts_earning ORDER BY id
        """
    )
    cursor.execute(
        """
        INSERT INTO payouts_entry (amount, journal_id, account_id)
        SELECT e.amount, j.id, a.id FROM payouts_journal j JOIN payouts_earning e ON e.id = j.earning_id
          JOIN payouts_ledgeraccount a ON a.key = 'seller_balance:' || e.currency || ':' || e.seller_id
        UNION ALL
        SELECT -e.amount, j.id, a.id FROM payouts_journal j JOIN payouts_earning e ON e.id = j.earning_id
          JOIN payouts_ledgeraccount a ON a.key = 'platform_cash:' || e.currency
        """
    )
    cursor.execute("ANALYZE")
