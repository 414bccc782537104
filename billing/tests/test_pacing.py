"""Calls to Stripe are spaced evenly under STRIPE_MAX_REQUESTS_PER_SECOND: within one
process, and, with Redis, across every process that calls Stripe."""

import threading

import pytest
import redis

from billing import gateway
from stripe_integration import pacer as pacing


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_one_process_spaces_its_calls_evenly_without_bursts(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(pacing.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(pacing.time, "sleep", clock.sleep)
    pacer = gateway.RatePacer(25)
    starts = []
    for _ in range(50):
        pacer.acquire()
        starts.append(clock.now)
    gaps = {round(b - a, 9) for a, b in zip(starts, starts[1:], strict=False)}
    assert gaps == {0.04}  # 25 per second, never two at once
    assert starts[-1] - starts[0] == pytest.approx(49 / 25)


class SteppedClock:
    """A clock for real threads that moves only when every thread is asleep (or done):
    then to the earliest wake-up. `late` makes a thread's first sleep end that much
    later, as on a busy machine."""

    def __init__(self, *, late: dict[str, float]):
        self.now = 100.0
        self.late = late
        self.cond = threading.Condition()
        self.sleepers: dict[str, float] = {}
        self.running = 0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        name = threading.current_thread().name
        with self.cond:
            self.sleepers[name] = self.now + seconds + self.late.pop(name, 0.0)
            self.running -= 1
            self.cond.notify_all()
            self.cond.wait_for(lambda: name not in self.sleepers)

    def run(self, target, names: list[str]) -> None:
        """Start one thread per name, each once the one before is asleep or done, then
        move the clock from wake-up to wake-up until all are done."""

        def body():
            try:
                target()
            finally:
                with self.cond:
                    self.running -= 1
                    self.cond.notify_all()

        def settle():
            assert self.cond.wait_for(lambda: self.running == 0, timeout=10), "a thread never slept or ended"

        threads = []
        for name in names:
            with self.cond:
                self.running += 1
            threads.append(threading.Thread(target=body, name=name))
            threads[-1].start()
            with self.cond:
                settle()
        with self.cond:
            while self.sleepers:
                self.now = min(self.sleepers.values())
                for name in [n for n, wake in self.sleepers.items() if wake <= self.now]:
                    del self.sleepers[name]
                    self.running += 1
                self.cond.notify_all()
                settle()
        for thread in threads:
            thread.join()


def most_in_one_window(starts, window: float) -> int:
    """The most starts in any half-open window (t - window, t], as a strict limiter counts."""
    starts = sorted(starts)
    return max(sum(1 for s in starts if t - window + 1e-9 < s <= t) for t in starts)


def test_a_call_that_wakes_late_does_not_make_a_burst_with_the_calls_after_it(monkeypatch):
    """The call given the second slot sleeps a second too long (a busy machine): it must
    not start beside the calls scheduled a second later, which would put 26 calls in one
    second in front of a strict 25/s limiter."""
    clock = SteppedClock(late={"call-1": 1.0})
    monkeypatch.setattr(pacing.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(pacing.time, "sleep", clock.sleep)
    pacer = gateway.RatePacer(25)
    starts, lock = [], threading.Lock()

    def call():
        pacer.acquire()
        with lock:
            starts.append(clock.now)

    clock.run(call, [f"call-{n}" for n in range(40)])
    assert len(starts) == 40
    assert most_in_one_window(starts, 1.0) == 25  # never more, and the rate is kept
    assert max(starts) - min(starts) == pytest.approx(40 / 25, abs=0.05)  # no time lost either


def test_a_request_written_late_counts_from_when_it_was_written(monkeypatch):
    """The first call's request waits 1.2 s between its turn and the socket (a busy
    machine): until it is written it counts as leaving any moment, so the calls after it
    never make three in one second with it, at 2 per second."""
    clock = SteppedClock(late={})
    monkeypatch.setattr(pacing.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(pacing.time, "sleep", clock.sleep)
    pacer = gateway.RatePacer(2)
    written, lock = [], threading.Lock()

    def call():
        pacer.acquire(held=True)
        if threading.current_thread().name == "call-0":
            clock.sleep(1.2)  # waiting for the interpreter, not yet on the wire
        with lock:
            written.append(clock.now)
        pacer.sent()

    clock.run(call, [f"call-{n}" for n in range(4)])
    assert len(written) == 4
    assert most_in_one_window(written, 1.0) == 2


def test_the_pacer_is_shared_through_redis_when_there_is_one(settings, monkeypatch):
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 25
    monkeypatch.setattr(pacing, "rate_share", 2)  # a forked process of the loop
    settings.STRIPE_PACER_URL = ""
    settings.CELERY_BROKER_URL = "filesystem://"
    local = gateway.pacer()
    assert isinstance(local, gateway.RatePacer) and local.rate == 12.5  # its half of the rate
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    shared = gateway.pacer()
    assert isinstance(shared, gateway.SharedRatePacer) and shared.rate == 25  # the platform's rate


@pytest.mark.redis
def test_workers_share_one_rate_through_redis(settings):
    url = settings.CELERY_BROKER_URL
    workers = [gateway.SharedRatePacer(50, url) for _ in range(3)]  # three processes' pacers
    workers[0]._client.delete(gateway.SharedRatePacer.KEY)
    slots, lock = [], threading.Lock()

    def calls(pacer):
        for _ in range(20):
            slot, _ = pacer.reserve()
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=calls, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    slots.sort()
    assert len(set(slots)) == 60
    assert {b - a for a, b in zip(slots, slots[1:], strict=False)} == {20_000}  # 1/50 s apart, in µs


@pytest.mark.redis
def test_processes_sharing_the_redis_pacer_never_exceed_the_rate_whenever_their_sleeps_end(
    settings, monkeypatch
):
    """Three processes' pacers with two threads each, whose sleeps all end at once (the
    worst a busy machine can do): counted on Redis's clock, no second ever holds more
    calls than the rate."""
    monkeypatch.setattr(pacing.time, "sleep", lambda seconds: None)
    url = settings.CELERY_BROKER_URL
    client = redis.Redis.from_url(url)
    client.delete(*client.keys("marketplace:stripe-pacer:*"), "-")
    pacers = [gateway.SharedRatePacer(20, url) for _ in range(3)]
    starts, lock = [], threading.Lock()

    def calls(pacer):
        for _ in range(5):
            started = pacer.acquire()
            with lock:
                starts.append(started / 1_000_000)

    threads = [threading.Thread(target=calls, args=(p,)) for p in pacers for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 30
    assert most_in_one_window(starts, 1.0) == 20


def test_calls_still_go_out_when_redis_is_down(caplog):
    pacer = gateway.SharedRatePacer(1000, "redis://127.0.0.1:1/0")  # nothing listens there
    before = pacer._fallback._next
    pacer.acquire()
    assert pacer._fallback._next > before  # paced by this process instead
    assert "Stripe pacing falls back to this process" in caplog.text
