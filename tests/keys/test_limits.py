"""The per-process limits, on a clock the test moves: wrong keys per address, requests per
minute and in flight per key."""

from __future__ import annotations

import pytest

from sightline.errors import RateLimited, TooManyAuthFailures, TooManyConcurrentRequests
from sightline.keys import ConcurrencyLimit, FailureThrottle, RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_is_refused_after_its_failures_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=3, window=60, clock=clock)
    for _ in range(2):
        throttle.failed("10.0.0.1")
        clock.now += 10
    throttle.check("10.0.0.1")  # two failures: still allowed
    throttle.failed("10.0.0.1")  # the third, at 1020
    with pytest.raises(TooManyAuthFailures) as refused:
        throttle.check("10.0.0.1")
    assert refused.value.retry_after == 40  # the first failure (1000) leaves at 1060
    throttle.check("10.0.0.2")  # other addresses are not affected
    clock.now = 1060
    throttle.check("10.0.0.1")  # the window has room again
    throttle.failed("10.0.0.1")
    with pytest.raises(TooManyAuthFailures):
        throttle.check("10.0.0.1")


def test_a_zero_limit_is_off() -> None:
    throttle = FailureThrottle(limit=0, window=60)
    for _ in range(100):
        throttle.failed("10.0.0.1")
    throttle.check("10.0.0.1")
    rate = RateLimit(0)
    for _ in range(100):
        rate.take("key")
    concurrency = ConcurrencyLimit(0)
    for _ in range(100):
        concurrency.enter("key")


def test_a_key_gets_bursts_up_to_its_rate_then_tokens_as_time_passes() -> None:
    clock = Clock()
    rate = RateLimit(per_minute=3, clock=clock)
    for _ in range(3):
        rate.take("a")
    with pytest.raises(RateLimited) as refused:
        rate.take("a")
    assert refused.value.retry_after == 20  # one token every 20 s
    rate.take("b")  # each key has its own bucket
    clock.now += 20
    rate.take("a")
    with pytest.raises(RateLimited):
        rate.take("a")


def test_requests_in_flight_are_counted_per_key_until_they_end() -> None:
    limit = ConcurrencyLimit(most=2)
    leave_first = limit.enter("a")
    leave_second = limit.enter("a")
    with pytest.raises(TooManyConcurrentRequests) as refused:
        limit.enter("a")
    assert refused.value.retry_after == 1
    limit.enter("b")()
    leave_first()
    leave_third = limit.enter("a")
    leave_second()
    leave_third()
    for _ in range(2):
        limit.enter("a")
