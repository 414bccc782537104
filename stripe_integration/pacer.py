"""
Pacing of the calls to Stripe.

Stripe limits request rates (https://docs.stripe.com/rate-limits: 100 operations per
second in live mode, 25 in test mode, and about 25 per second per endpoint by default), so
every call first takes a slot from a pacer (`STRIPE_MAX_REQUESTS_PER_SECOND`; 0 means no
pacing). With Redis (`STRIPE_PACER_URL`, or a Redis broker) the slots are shared by every
process that calls Stripe, so the rate is the platform's; without it each process paces
itself, and the loop's forks split the rate between them.
"""

import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)


class RatePacer:
    """Spaces calls evenly, shared by the threads of one process: call n may start no
    sooner than n / rate seconds after the first. No bursts, so a limit counted per
    second on Stripe's side is never exceeded by the pacing itself."""

    def __init__(self, rate: float):
        self.rate = float(rate)
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            time.sleep(start - now)


class SharedRatePacer:
    """The same even spacing for every process that calls Stripe (the beat loop and its
    forks, the Celery workers), kept in Redis: each call reserves the next free slot with
    one atomic script on Redis's clock, then sleeps until it. If Redis cannot be reached
    the call falls back to this process's own pacer rather than not charging; a 429 from
    Stripe is still retried as transport trouble."""

    KEY = "marketplace:stripe-pacer:next-slot-us"
    # KEYS[1]: the next free slot (µs on Redis's clock); ARGV[1]: the interval in µs.
    # Returns the reserved slot and how long to wait for it. Microseconds since 1970 fit a
    # Lua number (a double) exactly; '%.0f' keeps every digit when they become strings.
    SCRIPT = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
    if slot < now then slot = now end
    local interval = tonumber(ARGV[1])
    redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', math.floor(interval / 1000) + 60000)
    return {string.format('%.0f', slot), slot - now}
    """

    def __init__(self, rate: float, url: str):
        import redis

        self.rate = float(rate)
        self.url = url
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._reserve = self._client.register_script(self.SCRIPT)
        self._fallback = RatePacer(rate)

    def reserve(self) -> tuple[int, float]:
        """Reserve the next slot: (the slot in µs on Redis's clock, seconds to wait)."""
        slot, wait_us = self._reserve(keys=[self.KEY], args=[max(1, round(1_000_000 / self.rate))])
        return int(slot), int(wait_us) / 1_000_000

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        try:
            _, wait = self.reserve()
        except Exception as exc:  # redis.RedisError and socket trouble alike
            logger.warning("Stripe pacing falls back to this process: Redis did not answer (%s)", exc)
            self._fallback.acquire()
            return
        if wait > 0:
            time.sleep(wait)


_pacer_lock = threading.Lock()
_pacer: RatePacer | SharedRatePacer | None = None


# A process started to share the loop's work takes 1/rate_share of the rate (only when
# there is no shared pacer).
rate_share = 1


def pacer_url() -> str:
    """Where the shared pacer lives: STRIPE_PACER_URL, else a Redis broker, else nowhere."""
    url = settings.STRIPE_PACER_URL or settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://")) else ""


def pacer() -> RatePacer | SharedRatePacer:
    global _pacer
    url = pacer_url()
    rate = float(settings.STRIPE_MAX_REQUESTS_PER_SECOND) / (1 if url else rate_share)
    with _pacer_lock:
        if _pacer is None or _pacer.rate != rate or getattr(_pacer, "url", "") != url:
            _pacer = SharedRatePacer(rate, url) if url and rate > 0 else RatePacer(rate)
        return _pacer
