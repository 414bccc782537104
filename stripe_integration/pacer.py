"""
Pacing of the calls to Stripe.

Stripe limits request rates (https://docs.stripe.com/rate-limits: 100 operations per
second in live mode, 25 in test mode, and about 25 per second per endpoint by default), so
every request waits for its turn from a pacer (`STRIPE_MAX_REQUESTS_PER_SECOND`, the limit
Stripe counts; 0 means no pacing), taken as the request is written to the socket
(`client._PacedRequestsClient`). Stripe's limiter is strict, so the pacer is too: no
window of a second ever holds more requests than the limit, counting when they were
really written, and it keeps HEADROOM below the limit for the trip to Stripe. With Redis
(`STRIPE_PACER_URL`, or a Redis broker) the turns are shared by every process that calls
Stripe, so the rate is the platform's; without it each process paces itself, and the
loop's forks split the rate between them.
"""

import itertools
import logging
import math
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

# How much longer than Stripe's one second the pacer's window is: a request reaches
# Stripe some time after it is written (the network, Stripe's front end), by a varying
# amount, so two requests written one second apart can arrive less than a second apart.
# 10% (100 ms at any rate) is what a strict 25/s limiter needed to answer no 429 on a busy
# 2-core machine (benchmarks/billing_charges.py); the pace is then at most 91% of the limit.
HEADROOM = 0.1
# A call that has its turn but has not yet written its request (`acquire(held=True)`,
# then `sent()`) counts as leaving at the latest moment, for at most this long: a process
# that died holding a turn does not hold it for ever.
HELD_AT_MOST_SECONDS = 5.0


class RatePacer:
    """Paces the calls of one process, shared by its threads. Two rules:

    - a schedule: each call reserves the next slot, `interval` after the one before,
      and sleeps until it (first come, first served; no crowd wakes at once);
    - a strict window: a call starts only if fewer than `limit` calls left in the
      `window` before now, counting when requests really left: a call taken with
      `held=True` counts as leaving any moment until `sent()` records when its request
      was written. A thread that woke late from its sleep, or whose request waited for
      the interpreter on a busy machine, would otherwise leave right beside the calls
      scheduled after it, a burst a strict limiter counts; here those wait.

    So no window of one second (of `window`, which includes the headroom) ever holds
    more requests than the rate, however late the sleeps end."""

    def __init__(self, rate: float, *, headroom: float = 0.0):
        self.rate = float(rate)
        if self.rate > 0:
            base = max(1.0, 1.0 / self.rate)  # below one call a second, one call per 1/rate
            self.limit = max(1, math.floor(self.rate * base + 1e-9))
            self.window = base * (1.0 + headroom)
            self.interval = self.window / self.limit
        self._lock = threading.Lock()
        self._next = -math.inf
        self._left: dict[int, float] = {}  # turn -> when its request left (or may leave)
        self._turns = itertools.count()
        self._held = threading.local()

    def reserve(self) -> tuple[float, float]:
        """Reserve the next slot on the schedule: (the slot, seconds to wait for it)."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
            return slot, slot - now

    def start(self, *, held: bool = False) -> tuple[float | None, float]:
        """(now, 0.0) if the window lets a call start now (it is counted), else (None,
        seconds until it may)."""
        with self._lock:
            now = time.monotonic()
            # A nanosecond's leeway: slots added up in floating point land a hair early.
            self._left = {turn: at for turn, at in self._left.items() if at > now - self.window + 1e-9}
            if len(self._left) >= self.limit:
                oldest = min(self._left.values())
                return None, oldest + self.window - now if oldest <= now else self.interval
            turn = next(self._turns)
            self._left[turn] = now + HELD_AT_MOST_SECONDS if held else now
            self._held.turn = turn if held else None
            return now, 0.0

    def sent(self) -> None:
        """The request of this thread's held turn has been written: it counts from now."""
        turn, self._held.turn = getattr(self._held, "turn", None), None
        if turn is not None:
            with self._lock:
                if turn in self._left:
                    self._left[turn] = time.monotonic()

    def acquire(self, *, held: bool = False):
        """Wait for this call's turn (its slot, then room in the window); returns when
        it started, on the pacer's clock. With `held`, call `sent()` once the request
        is written."""
        if self.rate <= 0:
            return None
        _, wait = self.reserve()
        while True:
            if wait > 0:
                time.sleep(wait)
            started, wait = self.start(held=held)
            if started is not None:
                return started


class SharedRatePacer(RatePacer):
    """The same two rules for every process that calls Stripe (the beat loop and its
    forks, the Celery workers), kept in Redis and timed by Redis's clock: the schedule's
    next slot is one key, the window's requests a sorted set, each changed by one atomic
    script. If Redis cannot be reached the call falls back to this process's own pacer
    rather than not charging; a 429 from Stripe is still retried as transport trouble."""

    KEY = "marketplace:stripe-pacer:next-slot-us"
    LEFT_KEY = "marketplace:stripe-pacer:left"
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
    # KEYS[1]: when each counted request left (a sorted set scored by µs on Redis's clock;
    # a held turn is scored in the future until its request is sent); ARGV: the window,
    # the limit, the interval, and how far ahead a held turn is scored (0: not held), all
    # µs but the limit. Returns {1, now, turn} when the call may start (counted), {0, µs
    # to wait} when the window is full.
    START_SCRIPT = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local window, limit, interval, held = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
    if redis.call('ZCARD', KEYS[1]) >= limit then
        local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
        if oldest > now then return {0, string.format('%.0f', interval)} end
        return {0, string.format('%.0f', oldest + window - now)}
    end
    local turn = string.format('%.0f', now) .. ':' .. redis.call('INCR', KEYS[1] .. ':n')
    redis.call('ZADD', KEYS[1], string.format('%.0f', now + held), turn)
    local keep = math.floor((window + held) / 1000) + 60000
    redis.call('PEXPIRE', KEYS[1], keep)
    redis.call('PEXPIRE', KEYS[1] .. ':n', keep)
    return {1, string.format('%.0f', now), turn}
    """
    # KEYS[1] as above, ARGV[1]: a held turn, now sent (scored now, if still counted).
    SENT_SCRIPT = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    return redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now), ARGV[1])
    """

    def __init__(self, rate: float, url: str, *, headroom: float = 0.0):
        import redis

        super().__init__(rate, headroom=headroom)
        self.url = url
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._reserve = self._client.register_script(self.SCRIPT)
        self._start = self._client.register_script(self.START_SCRIPT)
        self._sent = self._client.register_script(self.SENT_SCRIPT)
        self._fallback = RatePacer(rate, headroom=headroom)

    def reserve(self) -> tuple[int, float]:
        """Reserve the next slot: (the slot in µs on Redis's clock, seconds to wait)."""
        slot, wait_us = self._reserve(keys=[self.KEY], args=[math.ceil(self.interval * 1_000_000)])
        return int(slot), int(wait_us) / 1_000_000

    def start(self, *, held: bool = False) -> tuple[int | None, float]:
        """(now in µs on Redis's clock, 0.0) if the window lets a call start now (it is
        counted), else (None, seconds until it may)."""
        window, interval = round(self.window * 1_000_000), math.ceil(self.interval * 1_000_000)
        answer = self._start(
            keys=[self.LEFT_KEY],
            args=[window, self.limit, interval, round(HELD_AT_MOST_SECONDS * 1_000_000) if held else 0],
        )
        if not int(answer[0]):
            return None, int(answer[1]) / 1_000_000
        self._held.turn = answer[2] if held else None
        return int(answer[1]), 0.0

    def sent(self) -> None:
        turn, self._held.turn = getattr(self._held, "turn", None), None
        if turn is None:
            self._fallback.sent()
            return
        try:
            self._sent(keys=[self.LEFT_KEY], args=[turn])
        except Exception as exc:  # the turn then counts until HELD_AT_MOST_SECONDS
            logger.warning("Stripe pacing: Redis did not take a sent request (%s)", exc)

    def acquire(self, *, held: bool = False):
        """As RatePacer's, on Redis's clock (returns µs); None when Redis did not answer
        and this process paced the call itself."""
        try:
            return super().acquire(held=held)
        except Exception as exc:  # redis.RedisError and socket trouble alike
            logger.warning("Stripe pacing falls back to this process: Redis did not answer (%s)", exc)
            self._held.turn = None
            self._fallback.acquire(held=held)
            return None


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
            _pacer = (
                SharedRatePacer(rate, url, headroom=HEADROOM)
                if url and rate > 0
                else RatePacer(rate, headroom=HEADROOM)
            )
        return _pacer
