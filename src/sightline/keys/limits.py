"""Limits kept in this process's memory: wrong keys per client address, requests per minute
and in flight per key.

Each API replica counts for itself, so with N replicas behind a load balancer a client gets up
to N times the figures; they guard one process against a flood, they are not quotas. Every
limit of 0 is off. The clock is injectable so tests need no sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from sightline.errors import RateLimited, TooManyAuthFailures, TooManyConcurrentRequests
from sightline.settings import Settings

Clock = Callable[[], float]
# Addresses remembered at most: a flood from many addresses cannot grow the table for ever.
MAX_ADDRESSES = 10_000


class FailureThrottle:
    """After `limit` failures from one address within `window` seconds, `check` refuses that
    address until the oldest of them is older than the window."""

    def __init__(self, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        if not self.limit:
            return
        with self._lock:
            failures = self._recent(address)
            if failures is None or len(failures) < self.limit:
                return
            wait = failures[0] + self.window - self._clock()
        raise TooManyAuthFailures(
            f"Too many wrong API keys from this address; try again in {math.ceil(wait)} s.",
            retry_after=max(1, math.ceil(wait)),
        )

    def failed(self, address: str) -> None:
        if not self.limit:
            return
        with self._lock:
            failures = self._recent(address) or deque(maxlen=self.limit)
            failures.append(self._clock())
            self._failures[address] = failures
            self._failures.move_to_end(address)
            while len(self._failures) > MAX_ADDRESSES:
                self._failures.popitem(last=False)

    def _recent(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        cutoff = self._clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures


class RateLimit:
    """A token bucket per key: `per_minute` requests, refilled evenly, bursts up to as many."""

    def __init__(self, per_minute: int, clock: Clock = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, when)
        self._lock = threading.Lock()

    def take(self, key_id: str) -> None:
        if not self.per_minute:
            return
        rate = self.per_minute / 60
        with self._lock:
            now = self._clock()
            tokens, since = self._buckets.get(key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - since) * rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return
            self._buckets[key_id] = (tokens, now)
            wait = (1 - tokens) / rate
        raise RateLimited(
            f"This key may make {self.per_minute} requests a minute; try again in "
            f"{math.ceil(wait)} s.",
            retry_after=max(1, math.ceil(wait)),
        )


class ConcurrencyLimit:
    """At most `most` requests in flight per key."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, key_id: str) -> Callable[[], None]:
        """Count one more request of this key; call what it returns when the request ends."""
        if not self.most:
            return lambda: None
        with self._lock:
            running = self._running.get(key_id, 0)
            if running >= self.most:
                raise TooManyConcurrentRequests(
                    f"This key may have {self.most} requests in flight at once.", retry_after=1
                )
            self._running[key_id] = running + 1
        return lambda: self._leave(key_id)

    def _leave(self, key_id: str) -> None:
        with self._lock:
            left = self._running[key_id] - 1
            if left:
                self._running[key_id] = left
            else:
                del self._running[key_id]


@dataclass(frozen=True)
class AccessLimits:
    """The three limits of one process, from settings."""

    failures: FailureThrottle
    rate: RateLimit
    concurrency: ConcurrencyLimit

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = time.monotonic) -> AccessLimits:
        return cls(
            failures=FailureThrottle(
                settings.auth_failure_limit, settings.auth_failure_window_seconds, clock
            ),
            rate=RateLimit(settings.key_rate_limit, clock),
            concurrency=ConcurrencyLimit(settings.key_concurrency_limit),
        )
