"""
A Stripe-shaped payment gateway for the billing benchmark (and one test that needs a slow
gateway). A PaymentIntent create:

- answers after --latency-ms exactly, or, with --latency-p99-ms, after a time drawn from a
  log-normal distribution with that median and 99th percentile (Stripe's own answers
  spread like this: most near the median, a long tail);
- with --decline-rate F, declines that fraction of charges (402, `card_error`) with real
  decline codes in roughly the proportions card networks report: mostly soft
  (insufficient_funds, generic_decline, do_not_honor, try_again_later), some needing the
  customer (expired_card, incorrect_cvc), a few hard (lost_card, stolen_card, fraudulent);
- replays a repeated Idempotency-Key with the first answer, as Stripe does, and refuses
  the key reused with a different body (400, `idempotency_error`), as Stripe does;
- with --rate-limit N, answers 429 (Stripe's `rate_limit` error) to a request when N were
  already accepted in the second before it: a sliding window, so no burst above N ever
  gets through.

GET /_stats reports what it saw, including any invoice charged by two different
PaymentIntents (a double charge).

    python benchmarks/fake_stripe.py --port 8421 --latency-ms 200 [--rate-limit 25]
    python benchmarks/fake_stripe.py --port 8421 --latency-ms 200 --latency-p99-ms 1000 --decline-rate 0.03
"""

import argparse
import asyncio
import collections
import hashlib
import itertools
import math
import random
import time

from aiohttp import web

STATS_ZERO = {"requests": 0, "rate_limited": 0, "replayed": 0, "declined": 0, "idempotency_refused": 0}
stats = dict(STATS_ZERO)
by_key: dict = {}
charges_by_invoice: dict = {}
ids = itertools.count(1)

# (decline_code, advice_code, weight): soft declines dominate, as networks report.
DECLINES = [
    ("insufficient_funds", "try_again_later", 40),
    ("generic_decline", "", 20),
    ("do_not_honor", "", 12),
    ("try_again_later", "try_again_later", 5),
    ("expired_card", "", 8),
    ("incorrect_cvc", "confirm_card_data", 5),
    ("lost_card", "do_not_try_again", 4),
    ("stolen_card", "do_not_try_again", 3),
    ("fraudulent", "do_not_try_again", 3),
]


class SlidingWindow:
    """At most `rate` accepted requests in any one-second window."""

    def __init__(self, rate):
        self.rate, self.accepted = int(rate), collections.deque()

    def take(self) -> bool:
        now = time.monotonic()
        while self.accepted and self.accepted[0] <= now - 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= self.rate:
            return False
        self.accepted.append(now)
        return True


def latency_draw(p50: float, p99: float | None, rng: random.Random) -> float:
    if not p99:
        return p50
    sigma = math.log(p99 / p50) / 2.3263  # z of the 99th percentile
    return p50 * math.exp(rng.gauss(0.0, sigma))


def build(
    latency: float, rate_limit: float, *, p99: float | None = None, decline_rate: float = 0.0, seed: int = 1
):
    window = SlidingWindow(rate_limit) if rate_limit else None
    rng = random.Random(seed)
    codes = [(code, advice) for code, advice, weight in DECLINES for _ in range(weight)]

    async def create_payment_intent(request):
        stats["requests"] += 1
        if window and not window.take():
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
        body = await request.read()
        form = await request.post()
        key = request.headers.get("Idempotency-Key")
        digest = hashlib.sha256(body).hexdigest()
        await asyncio.sleep(latency_draw(latency, p99, rng))
        if key in by_key:
            first_digest, status, answer = by_key[key]
            if first_digest != digest:
                stats["idempotency_refused"] += 1
                return web.json_response(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the same parameters "
                            f"they were first used with. Try using a key other than '{key}' if you meant to "
                            "execute a different request.",
                        }
                    },
                    status=400,
                )
            stats["replayed"] += 1
            return web.json_response(answer, status=status)
        if decline_rate and rng.random() < decline_rate:
            stats["declined"] += 1
            code, advice = rng.choice(codes)
            intent = {
                "id": f"pi_bench{next(ids)}",
                "object": "payment_intent",
                "status": "requires_payment_method",
                "amount": int(form["amount"]),
                "currency": form["currency"],
            }
            error = {
                "type": "card_error",
                "code": "expired_card" if code == "expired_card" else "card_declined",
                "decline_code": code,
                "message": "Your card was declined.",
                "payment_intent": intent,
            }
            if code in ("incorrect_cvc",):
                error["code"] = "incorrect_cvc"
            if advice:
                error["advice_code"] = advice
            intent["last_payment_error"] = {k: v for k, v in error.items() if k != "payment_intent"}
            by_key[key] = (digest, 402, {"error": error})
            return web.json_response({"error": error}, status=402)
        intent = {
            "id": f"pi_bench{next(ids)}",
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "status": "succeeded",
            "metadata": {"invoice": form.get("metadata[invoice]"), "attempt": form.get("metadata[attempt]")},
        }
        by_key[key] = (digest, 200, intent)
        charges_by_invoice.setdefault(intent["metadata"]["invoice"], set()).add(intent["id"])
        return web.json_response(intent)

    async def get_stats(request):
        double = sum(1 for pis in charges_by_invoice.values() if len(pis) > 1)
        return web.json_response(
            {**stats, "charged_invoices": len(charges_by_invoice), "double_charged": double}
        )

    async def reset(request):
        stats.update(STATS_ZERO)
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
    parser.add_argument("--latency-p99-ms", type=float, help="Draw latencies: --latency-ms is the median.")
    parser.add_argument("--rate-limit", type=float, default=0)
    parser.add_argument("--decline-rate", type=float, default=0.0, help="Fraction of charges declined.")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    app = build(
        args.latency_ms / 1000,
        args.rate_limit,
        p99=args.latency_p99_ms / 1000 if args.latency_p99_ms else None,
        decline_rate=args.decline_rate,
        seed=args.seed,
    )
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)
