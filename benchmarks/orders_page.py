"""
How long do sellers, buyers and staff wait for order lists as the orders table grows?

For each size in --sizes (orders in the table; 90% from one big seller, each with an item,
an invoice and a charge: benchmarks/bench_data.py), renders through Django's full request
stack, --runs times each, and prints the median and p95 time and the query count of:

  - the big seller's "My orders", page 1 and a deep page (the older link followed from a
    position 90% of the way down), and filtered by status;
  - a buyer's "Your orders";
  - the admin lists of orders, invoices and transactions (page 1).

Targets: seller and buyer pages under 20 ms median at any depth with the query count
flat; admin lists under 200 ms median at 1M orders.

    python benchmarks/orders_page.py --sizes 10000                       # SQLite
    DATABASE_URL=postgres://…/marketplace python benchmarks/orders_page.py  # 10k, 100k, 1M
    DATABASE_URL=postgres://…/mp_bench BENCH_KEEP=1 python benchmarks/orders_page.py  # keep the data
"""

import argparse
import json
import statistics
import time

from _django import benchmark_database


def measure(client, url, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm up: templates compiled, connection open
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    timings.sort()
    return {"median": statistics.median(timings), "p95": timings[max(int(len(timings) * 0.95) - 1, 0)],
            "queries": len(queries)}  # fmt: skip


def pages(connection, *, runs):
    import bench_data
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from marketplace.keyset import position_of
    from orders.models import Order

    big = User.objects.get(email=bench_data.BIG_SELLER_EMAIL)
    buyer = User.objects.filter(email__startswith="buyer", role="buyer").order_by("pk").first()
    staff, _ = User.objects.get_or_create(
        email="staff@bench.test", defaults={"role": "buyer", "is_staff": True, "is_superuser": True}
    )
    deep = Order.objects.filter(seller=big).order_by("created_at", "id")[
        Order.objects.filter(seller=big).count() // 10
    ]
    mine = reverse("orders:seller_orders")
    client = Client()
    results = {}
    client.force_login(big)
    results["seller page 1"] = measure(client, mine, runs)
    results["seller deep page"] = measure(client, f"{mine}?older_than={position_of(deep)}", runs)
    results["seller status=shipped"] = measure(client, f"{mine}?status=shipped", runs)
    client.force_login(buyer)
    results["buyer page 1"] = measure(client, reverse("orders:buyer_orders"), runs)
    client.force_login(staff)
    for name, url in [
        ("admin orders", "admin:orders_order_changelist"),
        ("admin invoices", "admin:billing_invoice_changelist"),
        ("admin transactions", "admin:billing_transaction_changelist"),
    ]:
        results[name] = measure(client, reverse(url), max(runs // 4, 5))
    results["admin orders, email search"] = measure(
        client, reverse("admin:orders_order_changelist") + "?q=buyer77@", 5
    )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="Orders in the table, comma-separated."
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", help="Also write the figures to this file (for benchmarks/chart.py).")
    args = parser.parse_args()

    import bench_data

    figures = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        with benchmark_database(f"orders_{size}") as (connection, fresh):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                if connection.vendor == "sqlite":
                    raise SystemExit("bench_data loads with PostgreSQL's generate_series: set DATABASE_URL")
                big_orders = bench_data.orders_grow_to(cursor, size)
            print(f"\n{size:,} orders ({big_orders:,} from the big seller); "
                  f"{'loaded' if fresh else 'reused'} in {time.perf_counter() - started:.1f} s")  # fmt: skip
            results = pages(connection, runs=args.runs)
            for name, r in results.items():
                print(
                    f"  {name:28s} {r['median']:7.1f} ms median  (p95 {r['p95']:7.1f})  {r['queries']:3d} queries"
                )
            figures[size] = results
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=1)


if __name__ == "__main__":
    main()
