"""The job queue interface: at-least-once delivery with leases, retries and dead letters.

A job is claimed under a lease. While the lease holds, nobody else gets the job; a worker that
dies simply lets the lease run out and the job is handed out again. Every claim returns a fresh
`lease_token`, and `complete`/`retry`/`heartbeat` with a stale token do nothing, so a worker that
lost its lease cannot overwrite the outcome of the worker that took over.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

MAX_BACKOFF_SECONDS = 300.0
# How long finished jobs are kept, so a late duplicate enqueue of the same id is still ignored.
DONE_RETENTION_SECONDS = 24 * 3600


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class Job:
    id: str
    payload: dict[str, Any]
    attempt: int
    lease_token: str
    last_error: str | None = None


@dataclass(frozen=True)
class DeadJob:
    id: str
    payload: dict[str, Any]
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with jitter: between half and all of base * 2^(attempt-1)."""
        ceiling = min(MAX_BACKOFF_SECONDS, self.base_seconds * 2.0 ** (attempt - 1))
        draw = rng.random() if rng is not None else random.random()
        return ceiling * (0.5 + 0.5 * draw)


class JobQueue(Protocol):
    def enqueue(self, job_id: str, payload: dict[str, Any]) -> bool:
        """Add a job unless one with this id exists (in any state); True if it was added."""

    def claim(self, worker: str) -> Job | None:
        """Lease the oldest due job, or one whose lease expired; `attempt` counts from 1."""

    def heartbeat(self, job: Job) -> bool:
        """Extend the lease; False if this worker no longer holds it."""

    def complete(self, job: Job) -> None: ...

    def retry(self, job: Job, error: str) -> JobState:
        """Reschedule with backoff, or dead-letter after the last attempt; returns the job's state
        afterwards. With a stale token nothing changes and the current state is returned."""

    def dead_letters(self, limit: int = 100) -> list[DeadJob]: ...

    def requeue(self, job_id: str) -> bool:
        """Give a dead job a fresh set of attempts; False if there is no such dead job."""

    def depth(self) -> dict[JobState, int]: ...

    def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The state of each of these jobs that the queue holds; one it does not hold (never
        enqueued, lost with the queue's data, or finished longer ago than
        `DONE_RETENTION_SECONDS`) is left out."""

    def epoch(self) -> str:
        """An id of the queue's current storage that changes whenever its data was lost (the
        file deleted, the server restarted without persistence or flushed). The outbox relay
        compares it with the catalog's copy and dispatches unfinished work again on a change."""

    def close(self) -> None: ...
