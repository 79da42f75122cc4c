"""RedisQueue specifics on a real server: URLs and namespaces, the retention of finished jobs,
an outage and a restart that loses every key. The shared behaviour is in test_contract.py."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pytest
import redis

from sightline.errors import BackendError, ConfigurationError
from sightline.queue import JobQueue, JobState, RetryPolicy, open_queue
from sightline.queue.base import DONE_RETENTION_SECONDS
from sightline.queue.redis import RedisQueue
from support.services import Stack

QueueFactory = Callable[..., JobQueue]

pytestmark = pytest.mark.parametrize("queue_backend", ["redis"], indirect=True)


def test_namespaces_keep_queues_apart(make_queue: QueueFactory, services: Stack) -> None:
    ours = make_queue()
    theirs = make_queue(url=f"{services.redis.url}?namespace=other")
    ours.enqueue("a", {"n": 1})
    assert theirs.enqueue("a", {"n": 2}) is True
    assert theirs.depth()[JobState.QUEUED] == 1
    assert ours.epoch() != theirs.epoch()

    job = ours.claim("w")
    assert job is not None
    assert job.payload == {"n": 1}
    ours.complete(job)
    assert theirs.depth() == {**dict.fromkeys(JobState, 0), JobState.QUEUED: 1}


def test_the_namespace_prefixes_every_key(make_queue: QueueFactory, services: Stack) -> None:
    queue = make_queue(max_attempts=1)
    for job_id in ("done", "dead", "running", "waiting"):
        queue.enqueue(job_id, {})
    for outcome in ("complete", "retry", "claim"):
        job = queue.claim("w")
        assert job is not None
        if outcome == "complete":
            queue.complete(job)
        elif outcome == "retry":
            queue.retry(job, "boom")
    queue.epoch()
    with redis.Redis.from_url(services.redis.url) as client:
        keys = {key.decode() for key in client.keys("*")}
    assert keys and all(key.startswith("test:") for key in keys)


def test_redis_options_in_the_url_reach_the_client(
    make_queue: QueueFactory, queue_url: str
) -> None:
    queue = make_queue(url=f"{queue_url}&socket_timeout=1.5&health_check_interval=10")
    assert queue.enqueue("a", {}) is True
    with pytest.raises(ConfigurationError):
        make_queue(url=f"{queue_url}&socket_timeout=soon")
    with pytest.raises(ConfigurationError):
        make_queue(url=queue_url.replace("namespace=test", "namespace="))


def test_rediss_is_the_same_queue_over_tls(make_queue: QueueFactory, services: Stack) -> None:
    # Opening does not connect; the first call would, over TLS (not served by the test server).
    queue = make_queue(url=services.redis.url.replace("redis://", "rediss://"))
    assert isinstance(queue, RedisQueue)


def test_without_the_redis_package_the_url_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, queue_url: str
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.delitem(sys.modules, "sightline.queue.redis")
    with pytest.raises(ConfigurationError, match=r"pip install 'sightline\[scale\]'"):
        open_queue(queue_url, lease_seconds=1, retry=RetryPolicy())


def test_a_finished_job_is_remembered_for_the_retention_period_only(
    queue: JobQueue, services: Stack
) -> None:
    queue.enqueue("a", {"large": "x" * 1000})
    job = queue.claim("w")
    assert job is not None
    queue.complete(job)
    assert queue.enqueue("a", {}) is False
    with redis.Redis.from_url(services.redis.url) as client:
        ttl = client.ttl("test:job:a")
    assert DONE_RETENTION_SECONDS - 60 < ttl <= DONE_RETENTION_SECONDS


def test_a_restart_that_loses_every_key_leaves_a_working_queue_with_a_new_epoch(
    make_queue: QueueFactory, services: Stack
) -> None:
    first, second = make_queue(lease_seconds=5), make_queue(lease_seconds=5)
    first.enqueue("a", {})
    first.enqueue("b", {})
    held = first.claim("w")
    assert held is not None
    epoch = first.epoch()

    services.redis.kill()
    try:
        started = time.monotonic()
        with pytest.raises(BackendError):
            first.claim("w")
        with pytest.raises(BackendError):
            second.enqueue("c", {})
        # Refused connections fail fast: the worker loop logs, waits and tries again.
        assert time.monotonic() - started < 5
    finally:
        services.redis.start()

    # Both instances reconnect by themselves and see the same, new, empty storage.
    assert first.claim("w") is None
    assert second.depth() == dict.fromkeys(JobState, 0)
    assert first.epoch() != epoch
    assert first.epoch() == second.epoch()
    # The lease on the lost job is gone with it; nothing a stale holder does revives it.
    assert first.heartbeat(held) is False
    first.complete(held)
    assert first.depth()[JobState.DONE] == 0
    # The relay re-dispatches from the catalog: the same ids are accepted again.
    assert second.enqueue("a", {}) is True
    job = first.claim("w")
    assert job is not None
    assert (job.id, job.attempt) == ("a", 1)
    first.complete(job)
    assert second.depth()[JobState.DONE] == 1
