"""Queues to test: the embedded SQLite queue in a temporary file, the Redis queue on the real
server of the session's stack (flushed for each test). `queue_backend` runs a test on both; a
module about one backend narrows it with
`pytestmark = pytest.mark.parametrize("queue_backend", ["redis"], indirect=True)`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sightline.queue import JobQueue, RetryPolicy, open_queue
from support.services import Stack

QueueFactory = Callable[..., JobQueue]


@dataclass(frozen=True)
class QueueBackend:
    name: str
    url: str
    lose_data: Callable[[], None]  # what a crash without persistence or a deleted file does


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> QueueBackend:
    path = tmp_path / "queue.db"

    def lose_data() -> None:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    return QueueBackend("sqlite", f"sqlite:///{path}", lose_data)


@pytest.fixture
def redis_backend(services: Stack) -> QueueBackend:
    services.redis.flush()
    return QueueBackend("redis", f"{services.redis.url}?namespace=test", services.redis.flush)


@pytest.fixture(params=["sqlite", "redis"])
def queue_backend(request: pytest.FixtureRequest) -> QueueBackend:
    backend: QueueBackend = request.getfixturevalue(f"{request.param}_backend")
    return backend


@pytest.fixture
def queue_url(queue_backend: QueueBackend) -> str:
    return queue_backend.url


@pytest.fixture
def lose_data(queue_backend: QueueBackend) -> Callable[[], None]:
    return queue_backend.lose_data


@pytest.fixture
def make_queue(queue_url: str) -> Iterator[QueueFactory]:
    """Opens queue instances on the test's storage; each is like another process."""
    opened: list[JobQueue] = []

    def make(
        *,
        lease_seconds: float = 30.0,
        max_attempts: int = 5,
        base_seconds: float = 0.05,
        url: str | None = None,
    ) -> JobQueue:
        queue = open_queue(
            url or queue_url,
            lease_seconds=lease_seconds,
            retry=RetryPolicy(max_attempts=max_attempts, base_seconds=base_seconds),
        )
        opened.append(queue)
        return queue

    yield make
    for queue in opened:
        queue.close()


@pytest.fixture
def queue(make_queue: QueueFactory) -> JobQueue:
    return make_queue()
