"""
How fast does process_transactions get through a pile of due charges, and does it keep
to Stripe's rate limit?

Loads --charges due charges (10,000 by default: one customer, card, invoice and charge
transaction each) into a throwaway PostgreSQL database, then runs the product's own
loop (`billing.services.transactions_process_due`, what `manage.py process_transactions`
and beat run) against benchmarks/fake_stripe.py, a Stripe-shaped gateway that answers
every PaymentIntent after 200 ms:

  (a) no rate limit:                 target under 60 s for 10,000 charges
  (b) a gateway limit of 25 req/s that answers 429 above it, the product pacing itself at
      STRIPE_MAX_REQUESTS_PER_SECOND=25: target throughput within 10% of 25/s

Both must end with every invoice settled, no invoice charged twice (the gateway counts
PaymentIntents per invoice) and peak memory (this process's max RSS) under 300 MB.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marketplace python benchmarks/billing_charges.py
"""

import argparse
import json
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _django import benchmark_database

HERE = Path(__file__).resolve().parent
LATENCY_MS = 200


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway(rate_limit):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "fake_stripe.py"),
            "--port",
            str(port),
            "--latency-ms",
            str(LATENCY_MS),
            "--rate-limit",
            str(rate_limit),
        ]
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/_stats", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the fake gateway did not start")


def load(count, tag):
    from accounts.models import User
    from billing.models import Customer, Invoice, PaymentMethod, Transaction

    batch = 2000
    for offset in range(0, count, batch):
        n = range(offset, min(count, offset + batch))
        users = User.objects.bulk_create(
            User(email=f"bench-{tag}-{i}@example.com", role="buyer", password="!") for i in n
        )
        customers = Customer.objects.bulk_create(
            Customer(user=u, stripe_customer_id=f"cus_{tag}{i}") for u, i in zip(users, n, strict=True)
        )
        pms = PaymentMethod.objects.bulk_create(
            PaymentMethod(customer=c, stripe_id=f"pm_{tag}{i}", brand="visa", last4="4242")
            for c, i in zip(customers, n, strict=True)
        )
        snapshot = {
            "retry_delays": [1, 3, 5, 7],
            "final_action": "cancel",
            "grace_period_days": 3,
            "ambiguous_retry_cap": 2,
        }
        invoices = Invoice.objects.bulk_create(
            Invoice(
                customer=c,
                currency="USD",
                total_amount=1500,
                payment_method=pm,
                dunning=snapshot,
                status=Invoice.Status.PROCESSING,
            )
            for c, pm in zip(customers, pms, strict=True)
        )
        Transaction.objects.bulk_create(
            Transaction(invoice=inv, kind="charge", amount=1500, currency="USD", payment_method=pm)
            for inv, pm in zip(invoices, pms, strict=True)
        )


def scenario(name, *, count, rate_limit, concurrency, processes):
    from django.conf import settings
    from django.db import connection

    from billing.models import Attempt, Invoice
    from billing.services import transactions_process_due

    load(count, name)
    process, url = start_gateway(rate_limit)
    settings.STRIPE_API_BASE = url
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = rate_limit
    settings.STRIPE_TRANSPORT_RETRIES = 2
    settings.STRIPE_RETRY_BACKOFF_SECONDS = 0.5
    try:
        connection.close()
        started = time.perf_counter()
        report = transactions_process_due(concurrency=concurrency, processes=processes)
        elapsed = time.perf_counter() - started
        stats = json.loads(urllib.request.urlopen(f"{url}/_stats").read())
    finally:
        process.terminate()
        process.wait()
    settled = Invoice.objects.filter(
        customer__stripe_customer_id__startswith=f"cus_{name}", status="settled"
    ).count()
    attempts = Attempt.objects.filter(
        transaction__invoice__customer__stripe_customer_id__startswith=f"cus_{name}"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"\n({name}) {count:,} due charges, gateway 200 ms, "
        f"{'no rate limit' if not rate_limit else f'limit {rate_limit:g} req/s'}, "
        f"{processes} process(es) x {concurrency} threads"
    )
    print(f"  time           {elapsed:8.1f} s")
    print(
        f"  throughput     {count / elapsed:8.1f} charges/s   ({stats['requests'] / elapsed:.1f} requests/s)"
    )
    print(f"  429 answers    {stats['rate_limited']:8d}")
    results = ", ".join(f"{result} {n:,}" for result, n in sorted(report.results.items()))
    print(f"  settled        {settled:8,d} of {count:,}   (loop results: {results})")
    print(f"  attempts       {attempts.count():8,d}   double-charged invoices {stats['double_charged']}")
    print(
        f"  peak memory    {peak_mb:8.0f} MB (max RSS of this process so far; "
        f"largest forked child or gateway process {child_mb:.0f} MB)"
    )
    return elapsed, stats, settled


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--charges", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="threads per process")
    parser.add_argument("--processes", type=int, default=2, help="this machine has 2 cores")
    parser.add_argument("--skip", choices=["a", "b"], help="run only the other scenario")
    args = parser.parse_args()
    with benchmark_database() as connection:
        if connection.vendor != "postgresql":
            raise SystemExit(
                "This benchmark needs PostgreSQL (set DATABASE_URL): SQLite charges one at a time."
            )
        if args.skip != "a":
            scenario(
                "a", count=args.charges, rate_limit=0, concurrency=args.concurrency, processes=args.processes
            )
        if args.skip != "b":
            scenario(
                "b", count=args.charges, rate_limit=25, concurrency=args.concurrency, processes=args.processes
            )


if __name__ == "__main__":
    main()
