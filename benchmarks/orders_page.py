"""
How long does a seller with many orders wait for "My orders"?

Fills one seller with --orders orders (one item each), then renders their first orders
page --runs times through Django's full request stack and prints the median and p95
time and the query count, next to the query count for a seller with 10 orders.
Target: under 50 ms median; the same query count whatever the number of orders.

    python benchmarks/orders_page.py                    # SQLite (temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marketplace python benchmarks/orders_page.py
"""

import argparse
import statistics
import time

from _django import benchmark_database


def fill(seller, buyer, count):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import Order, OrderItem

    statuses = list(Order.Status.values)
    start = timezone.now() - timedelta(days=count // 20 + 1)
    batch = 2000
    for offset in range(0, count, batch):
        orders = Order.objects.bulk_create(
            Order(
                seller=seller,
                buyer=buyer,
                total_amount=1000 + i,
                currency="USD",
                status=statuses[i % len(statuses)],
                created_at=start + timedelta(minutes=i),
            )
            for i in range(offset, min(offset + batch, count))
        )
        OrderItem.objects.bulk_create(
            OrderItem(order=o, title=f"Item {o.pk}", quantity=1, unit_amount=o.total_amount) for o in orders
        )


def measure(client, url, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm up: templates compiled, connection open
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return statistics.median(timings), sorted(timings)[int(len(timings) * 0.95) - 1], len(queries)


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    with benchmark_database() as connection:
        from django.test import Client
        from django.urls import reverse

        from accounts.models import User

        buyer = User.objects.create_user(email="bench-buyer@example.com", password="x", role="buyer")
        small = User.objects.create_user(email="small-seller@example.com", password="x", role="seller")
        big = User.objects.create_user(email="big-seller@example.com", password="x", role="seller")
        fill(small, buyer, 10)
        started = time.perf_counter()
        fill(big, buyer, args.orders)
        fill_seconds = time.perf_counter() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        url = reverse("orders:seller_orders")
        client = Client()
        client.force_login(small)
        _, _, small_queries = measure(client, url, 5)
        client.force_login(big)
        median, p95, queries = measure(client, url, args.runs)
        print(f"database:            {connection.vendor}")
        print(f"orders for seller:   {args.orders:,} (filled in {fill_seconds:.1f} s)")
        print(f"first page, median:  {median:.1f} ms  (p95 {p95:.1f} ms, {args.runs} runs; target < 50 ms)")
        print(f"queries per page:    {queries} with {args.orders:,} orders, {small_queries} with 10 orders")
        print(f"verdict:             {'OK' if median < 50 and queries == small_queries else 'MISSED TARGET'}")


if __name__ == "__main__":
    main()
