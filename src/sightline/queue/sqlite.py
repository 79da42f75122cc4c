"""The embedded job queue: one SQLite table, leases as timestamps, claims in write transactions."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sightline.queue.base import DONE_RETENTION_SECONDS, DeadJob, Job, JobState, RetryPolicy
from sightline.storage.database import Database
from sightline.storage.statements import chunks

metadata = MetaData()
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("available_at", Float, nullable=False),
    Column("lease_token", String(32)),
    Column("lease_expires_at", Float),
    Column("worker", String(128)),
    Column("last_error", Text),
    Column("updated_at", Float, nullable=False),
    Index("ix_jobs_state_available", "state", "available_at"),
    Index("ix_jobs_state_lease", "state", "lease_expires_at"),
    Index("ix_jobs_state_updated", "state", "updated_at"),  # finds finished jobs to prune
)
# Facts about this queue file itself; so far only its epoch, a random id made with the file.
queue_meta = Table(
    "queue_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)


class SQLiteQueue:
    def __init__(self, db: Database, *, lease_seconds: float, retry: RetryPolicy) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.retry_policy = retry
        # The queue's schema is one table that changes with the code, not with user data:
        # create_all is idempotent and enough; the catalog has the real migrations.
        with db.write() as conn:
            metadata.create_all(conn)
            conn.execute(
                sqlite_insert(queue_meta)
                .values(key="epoch", value=uuid.uuid4().hex)
                .on_conflict_do_nothing(index_elements=["key"])
            )

    @classmethod
    def from_url(cls, url: str, *, lease_seconds: float, retry: RetryPolicy) -> SQLiteQueue:
        return cls(Database(url), lease_seconds=lease_seconds, retry=retry)

    def enqueue(self, job_id: str, payload: dict[str, Any]) -> bool:
        now = time.time()
        statement = (
            sqlite_insert(jobs)
            .values(
                id=job_id,
                payload=payload,
                state=str(JobState.QUEUED),
                attempts=0,
                available_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        with self.db.write() as conn:
            return bool(conn.execute(statement).rowcount)

    def claim(self, worker: str) -> Job | None:
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                select(jobs.c.id, jobs.c.payload, jobs.c.attempts, jobs.c.last_error)
                .where(
                    or_(
                        (jobs.c.state == str(JobState.QUEUED)) & (jobs.c.available_at <= now),
                        (jobs.c.state == str(JobState.RUNNING)) & (jobs.c.lease_expires_at <= now),
                    )
                )
                .order_by(jobs.c.available_at)
                .limit(1)
            ).first()
            if row is None:
                return None
            token = uuid.uuid4().hex
            conn.execute(
                update(jobs)
                .where(jobs.c.id == row.id)
                .values(
                    state=str(JobState.RUNNING),
                    attempts=row.attempts + 1,
                    lease_token=token,
                    lease_expires_at=now + self.lease_seconds,
                    worker=worker,
                    updated_at=now,
                )
            )
        return Job(
            id=row.id,
            payload=row.payload,
            attempt=row.attempts + 1,
            lease_token=token,
            last_error=row.last_error,
        )

    def heartbeat(self, job: Job) -> bool:
        now = time.time()
        with self.db.write() as conn:
            result = conn.execute(
                self._held(job).values(lease_expires_at=now + self.lease_seconds, updated_at=now)
            )
            return bool(result.rowcount)

    def complete(self, job: Job) -> None:
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                self._held(job).values(
                    state=str(JobState.DONE),
                    lease_token=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            conn.execute(
                jobs.delete().where(
                    jobs.c.state == str(JobState.DONE),
                    jobs.c.updated_at < now - DONE_RETENTION_SECONDS,
                )
            )

    def retry(self, job: Job, error: str) -> JobState:
        now = time.time()
        if job.attempt >= self.retry_policy.max_attempts:
            state, available_at = JobState.DEAD, now
        else:
            state, available_at = JobState.QUEUED, now + self.retry_policy.delay(job.attempt)
        with self.db.write() as conn:
            result = conn.execute(
                self._held(job).values(
                    state=str(state),
                    available_at=available_at,
                    lease_token=None,
                    lease_expires_at=None,
                    last_error=error,
                    updated_at=now,
                )
            )
            if not result.rowcount:  # the lease was lost: report what the job really is
                current = conn.scalar(select(jobs.c.state).where(jobs.c.id == job.id))
                return JobState(current) if current else JobState.DONE
        return state

    def dead_letters(self, limit: int = 100) -> list[DeadJob]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(jobs)
                .where(jobs.c.state == str(JobState.DEAD))
                .order_by(jobs.c.updated_at.desc())
                .limit(limit)
            ).all()
        return [DeadJob(row.id, row.payload, row.attempts, row.last_error) for row in rows]

    def requeue(self, job_id: str) -> bool:
        now = time.time()
        with self.db.write() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == str(JobState.DEAD))
                .values(state=str(JobState.QUEUED), attempts=0, available_at=now, updated_at=now)
            )
            return bool(result.rowcount)

    def depth(self) -> dict[JobState, int]:
        with self.db.read() as conn:
            rows = conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state)).all()
        counts = dict.fromkeys(JobState, 0)
        counts.update({JobState(state): count for state, count in rows})
        return counts

    def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        found: dict[str, JobState] = {}
        with self.db.read() as conn:
            for chunk in chunks(job_ids):
                rows = conn.execute(select(jobs.c.id, jobs.c.state).where(jobs.c.id.in_(chunk)))
                found.update({row.id: JobState(row.state) for row in rows})
        return found

    def epoch(self) -> str:
        """Made with the file, so a deleted queue.db comes back with a new one."""
        with self.db.read() as conn:
            return str(conn.scalar(select(queue_meta.c.value).where(queue_meta.c.key == "epoch")))

    def close(self) -> None:
        self.db.dispose()

    def _held(self, job: Job) -> Any:
        return update(jobs).where(jobs.c.id == job.id, jobs.c.lease_token == job.lease_token)


__all__ = ["SQLiteQueue"]
