"""Job queues behind `JobQueue`: the embedded SQLite one and the shared Redis Streams one."""

from __future__ import annotations

from sightline.backends import load_backend
from sightline.queue.base import DeadJob, Job, JobQueue, JobState, RetryPolicy

BACKENDS = {
    "sqlite": "sightline.queue.sqlite:SQLiteQueue",
    "redis": "sightline.queue.redis:RedisQueue",
    "rediss": "sightline.queue.redis:RedisQueue",
}


def open_queue(url: str, *, lease_seconds: float, retry: RetryPolicy) -> JobQueue:
    queue: JobQueue = load_backend("queue", url, BACKENDS, lease_seconds=lease_seconds, retry=retry)
    return queue


__all__ = ["DeadJob", "Job", "JobQueue", "JobState", "RetryPolicy", "open_queue"]
