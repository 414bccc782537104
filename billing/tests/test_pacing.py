"""Calls to Stripe are spaced evenly under STRIPE_MAX_REQUESTS_PER_SECOND: within one
process, and, with Redis, across every process that calls Stripe."""

import threading

import pytest

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


def test_calls_still_go_out_when_redis_is_down(caplog):
    pacer = gateway.SharedRatePacer(1000, "redis://127.0.0.1:1/0")  # nothing listens there
    before = pacer._fallback._next
    pacer.acquire()
    assert pacer._fallback._next > before  # paced by this process instead
    assert "Stripe pacing falls back to this process" in caplog.text
