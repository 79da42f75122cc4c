"""RetryPolicy: jittered, capped exponential backoff."""

from __future__ import annotations

import random

import pytest

from sightline.queue import RetryPolicy
from sightline.queue.base import MAX_BACKOFF_SECONDS


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5])
def test_retry_delay_is_jittered_exponential_backoff(attempt: int) -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=2.0)
    ceiling = 2.0 * 2 ** (attempt - 1)
    rng = random.Random(attempt)
    delays = [policy.delay(attempt, rng) for _ in range(200)]
    assert all(0.5 * ceiling <= delay <= ceiling for delay in delays)
    # Jitter: not one fixed value.
    assert max(delays) - min(delays) > 0.1 * ceiling


def test_retry_delay_bounds_use_the_extremes_of_the_draw() -> None:
    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def random(self) -> float:
            return self.value

    policy = RetryPolicy(base_seconds=1.0)
    assert policy.delay(3, Fixed(0.0)) == pytest.approx(2.0)
    assert policy.delay(3, Fixed(0.999999)) == pytest.approx(4.0, rel=1e-5)


def test_retry_delay_is_capped() -> None:
    policy = RetryPolicy(max_attempts=100, base_seconds=2.0)
    delays = [policy.delay(40, random.Random(seed)) for seed in range(50)]
    assert all(0.5 * MAX_BACKOFF_SECONDS <= delay <= MAX_BACKOFF_SECONDS for delay in delays)
