"""
How many requests a second do the busiest pages serve under gunicorn, and how slow is the
slowest 1%?

Serves the product with gunicorn (--gunicorn-workers processes, DEBUG off, as in
production) on the kept orders benchmark data (benchmarks/orders_page.py with
BENCH_KEEP=1; --orders sets which size) and drives it with wrk (Debian's `wrk` package:
`apt-get install wrk`) for --seconds per page with --connections open connections:

  - the big seller's "My orders" (signed in: the session cookie is sent);
  - a buyer's confirmation link page (the signed link from the email; GET only shows it);
  - /healthz (the load balancer's check, which touches the database).

Prints requests per second and the 50th and 99th percentile latency for each.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mp_bench BENCH_KEEP=1 python benchmarks/load_pages.py
"""

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from _django import ROOT, benchmark_database


def _wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn stopped while starting")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 60 s")


def _wrk(url: str, *, seconds: int, connections: int, cookie: str | None) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)

    def percentile(p):
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "rps": rate,
        "p50": percentile(50),
        "p99": percentile(99),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="Which kept orders database to serve.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_GUNICORN_PORT", 8025)))
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")

    import bench_data

    with benchmark_database(f"orders_{args.orders}") as (connection, _):
        from django.conf import settings
        from django.test import Client
        from django.urls import reverse

        from accounts.models import User
        from orders.links import RECEIVED, confirmation_token
        from orders.models import Order

        with connection.cursor() as cursor:
            bench_data.orders_grow_to(cursor, args.orders)
        seller = User.objects.get(email=bench_data.BIG_SELLER_EMAIL)
        # Production settings refuse the local signing key: sign the link with a fresh one
        # and give gunicorn the same.
        settings.SECRET_KEY = secrets.token_urlsafe(64)
        client = Client()
        client.force_login(seller)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        order = Order.objects.filter(seller=seller, status=Order.Status.PENDING_CUSTOMER_CONFIRMATION).first()
        link = reverse(
            "orders:confirmation_link", args=[order.pk, confirmation_token(order=order, answer=RECEIVED)]
        )
        db = connection.settings_dict
        env = dict(
            os.environ,
            DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            DJANGO_SETTINGS_MODULE="marketplace.settings.base",
            DEBUG="false",
            SECRET_KEY=settings.SECRET_KEY,  # the session cookie and the link were signed with it
            SITE_URL=f"http://127.0.0.1:{args.port}",
            SESSION_COOKIE_SECURE="false",
            # Required with DEBUG off, shaped like real keys; no page here talks to Stripe.
            STRIPE_SECRET_KEY="sk_test_" + secrets.token_hex(24),
            STRIPE_WEBHOOK_SECRET="whsec_" + secrets.token_hex(24),
        )
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", args.port)) == 0:
                raise SystemExit(f"port {args.port} is taken: pass --port")
        # DEBUG off serves hashed static files: they need collecting first (into var/).
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "marketplace.wsgi", "-w", str(args.gunicorn_workers),
             "-b", f"127.0.0.1:{args.port}", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{args.port}"
        try:
            _wait_for(f"{base}/healthz", server)
            print(f"gunicorn, {args.gunicorn_workers} workers, {args.orders:,} orders; wrk {args.connections} "
                  f"connections, {args.seconds} s per page")  # fmt: skip
            for name, path, with_cookie in [
                ("seller My orders", reverse("orders:seller_orders"), True),
                ("buyer link page", link, False),
                ("/healthz", "/healthz", False),
            ]:
                r = _wrk(base + path, seconds=args.seconds, connections=args.connections,
                         cookie=cookie if with_cookie else None)  # fmt: skip
                print(f"  {name:18s} {r['rps']:7.1f} req/s   p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms"
                      f"   non-2xx {r['errors']}")  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
