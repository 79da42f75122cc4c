"""Read operations' answers, kept in the catalog for polling. `POST /read/analyze` runs the
`read` feature through the same pipeline as `/v1/analyze`, synchronously, and keeps the finished
answer under a fresh operation id; `GET /read/analyzeResults/{id}` gives it back, on any API
replica sharing the catalog, until it expires. An operation is never "running" when polled: by
the time its id is known, it has succeeded.

Expired operations are removed as new ones are kept, when one is polled, and by the schedule
that runs where workers run (`app.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, insert, select

from sightline.storage import tables as t
from sightline.storage.database import Database

# The service keeps Read results for 48 hours.
KEEP = timedelta(hours=48)

r = t.read_operations.c


class ReadOperations(Protocol):
    """Finished Read operations, each in a collection, kept until `KEEP` after they started."""

    def keep(self, operation_id: str, collection: str, answer: dict[str, Any]) -> None: ...

    def get(self, operation_id: str, collection: str | None) -> dict[str, Any] | None:
        """The answer of an unexpired operation in `collection` (None: any collection)."""
        ...

    def forget_expired(self) -> int:
        """Remove the expired operations; answers how many there were."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class SQLReadOperations:
    def __init__(
        self, db: Database, keep: timedelta = KEEP, clock: Callable[[], datetime] = _now
    ) -> None:
        self.db = db
        self.keep_for = keep
        self.clock = clock

    def keep(self, operation_id: str, collection: str, answer: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute(delete(t.read_operations).where(r.created_at <= self._oldest()))
            conn.execute(
                insert(t.read_operations).values(
                    id=operation_id,
                    collection=collection,
                    status=answer["status"],
                    result=answer,
                    created_at=self.clock(),
                )
            )

    def get(self, operation_id: str, collection: str | None) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(r.result, r.collection, r.created_at).where(r.id == operation_id)
            ).first()
        if row is None or (collection is not None and row.collection != collection):
            return None
        if row.created_at <= self._oldest():
            self.forget_expired()
            return None
        found: dict[str, Any] = row.result
        return found

    def forget_expired(self) -> int:
        with self.db.write() as conn:
            return conn.execute(
                delete(t.read_operations).where(r.created_at <= self._oldest())
            ).rowcount

    def _oldest(self) -> datetime:
        """Operations started at or before this have expired."""
        return self.clock() - self.keep_for
