"""
A Stripe-shaped payment gateway for the billing benchmark: every PaymentIntent create
succeeds after --latency-ms, replays a repeated Idempotency-Key like Stripe does, and,
with --rate-limit N, answers 429 (Stripe's `rate_limit` error) to any request beyond N
per second (a token bucket of N, refilled continuously). GET /_stats reports what it saw,
including any invoice charged by two different PaymentIntents (a double charge).

    python benchmarks/fake_stripe.py --port 8421 --latency-ms 200 [--rate-limit 25]
"""

import argparse
import asyncio
import itertools
import time

from aiohttp import web

stats = {"requests": 0, "rate_limited": 0, "replayed": 0}
by_key: dict = {}
charges_by_invoice: dict = {}
ids = itertools.count(1)


class Bucket:
    def __init__(self, rate):
        self.rate, self.tokens, self.stamp = rate, rate, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def build(latency: float, rate_limit: float):
    bucket = Bucket(rate_limit) if rate_limit else None

    async def create_payment_intent(request):
        stats["requests"] += 1
        if bucket and not bucket.take():
            stats["rate_limited"] += 1
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "rate_limit",
                        "message": "Too many requests",
                    }
                },
                status=429,
            )
        form = await request.post()
        key = request.headers.get("Idempotency-Key")
        await asyncio.sleep(latency)
        if key in by_key:
            stats["replayed"] += 1
            return web.json_response(by_key[key])
        intent = {
            "id": f"pi_bench{next(ids)}",
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "status": "succeeded",
            "metadata": {"invoice": form.get("metadata[invoice]"), "attempt": form.get("metadata[attempt]")},
        }
        by_key[key] = intent
        charges_by_invoice.setdefault(intent["metadata"]["invoice"], set()).add(intent["id"])
        return web.json_response(intent)

    async def get_stats(request):
        double = sum(1 for pis in charges_by_invoice.values() if len(pis) > 1)
        return web.json_response(
            {**stats, "charged_invoices": len(charges_by_invoice), "double_charged": double}
        )

    async def reset(request):
        stats.update(requests=0, rate_limited=0, replayed=0)
        by_key.clear()
        charges_by_invoice.clear()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/payment_intents", create_payment_intent)
    app.router.add_get("/_stats", get_stats)
    app.router.add_post("/_reset", reset)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8421)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--rate-limit", type=float, default=0)
    args = parser.parse_args()
    web.run_app(build(args.latency_ms / 1000, args.rate_limit), host="127.0.0.1", port=args.port, print=None)
