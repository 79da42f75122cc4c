"""The outbox: every domain writes its events in the transaction of its change; the relay
reads them back in order and hands them to the queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Row, delete, func, select, update

from sightline.events import envelope
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.records import JSON, StoredEvent
from sightline.storage.statements import chunks, insert_events, upsert

QUEUE_EPOCH = "queue_epoch"


def _now() -> datetime:
    return datetime.now(UTC)


class EventLog(Protocol):
    """The outbox: events written with the changes they describe, relayed to the queue and to
    subscribers by seq, marked as their jobs finish, pruned when old."""

    def record_events(self, events: Sequence[JSON]) -> None:
        """Store events on their own (each once, by id), e.g. requests for background work."""

    def undispatched_events(self, limit: int) -> list[StoredEvent]: ...

    def mark_dispatched(
        self, seqs: Sequence[int], *, finished: Sequence[int] = (), epoch: str | None = None
    ) -> bool:
        """Mark events relayed; those in `finished` asked for no job, so they are done too.

        With `epoch` (the queue's, read before the jobs were enqueued), nothing is marked and
        False is returned if the catalog has meanwhile seen the queue lose its data: the jobs
        may have been enqueued into the lost queue after another relay handed back the
        unfinished ones, so the events must stay undispatched and be relayed again."""

    def mark_jobs_finished(self, event_ids: Sequence[str]) -> None:
        """The jobs these events asked for are over (done, or dead-lettered)."""

    def relayed_unfinished(self, after_seq: int, limit: int) -> list[StoredEvent]:
        """Events relayed to the queue whose job has not finished, by seq: the jobs the queue
        should hold."""

    def redispatch_unfinished(self, seqs: Sequence[int] | None = None) -> int:
        """Hand every relayed event whose job never finished (or those among `seqs`) to the
        relay again, for a queue that lost its jobs; returns how many. Enqueueing is
        idempotent, so jobs the queue still holds are not doubled."""

    def sync_queue_epoch(self, epoch: str) -> int | None:
        """Remember the queue's epoch; if it differs from the one remembered (the queue lost its
        data), `redispatch_unfinished` in the same transaction. Returns the count, or None when
        the epoch was already known."""

    def events_after(
        self, seq: int, limit: int, collection: str | None = None
    ) -> list[StoredEvent]:
        """Events after `seq`, in order; with `collection`, only those naming it."""

    def last_event_seq(self) -> int: ...

    def prune_events(self, older_than: datetime) -> int:
        """Delete finished events older than the cut-off; returns how many."""


class SQLEventLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record_events(self, events: Sequence[JSON]) -> None:
        with self.db.write() as conn:
            insert_events(conn, events)

    def undispatched_events(self, limit: int) -> list[StoredEvent]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.events)
                .where(t.events.c.dispatched_at.is_(None))
                .order_by(t.events.c.seq)
                .limit(limit)
            ).all()
        return [_stored_event(row) for row in rows]

    def mark_dispatched(
        self, seqs: Sequence[int], *, finished: Sequence[int] = (), epoch: str | None = None
    ) -> bool:
        if not seqs:
            return True
        now = _now()
        with self.db.write() as conn:
            if epoch is not None:
                state = t.catalog_state.c
                # Shared: relays mark at once; sync_queue_epoch's update waits for them.
                known = conn.scalar(
                    select(state.value).where(state.key == QUEUE_EPOCH).with_for_update(read=True)
                )
                if known != epoch:
                    return False
            conn.execute(
                update(t.events).where(t.events.c.seq.in_(list(seqs))).values(dispatched_at=now)
            )
            if finished:
                conn.execute(
                    update(t.events)
                    .where(t.events.c.seq.in_(list(finished)))
                    .values(finished_at=now)
                )
        return True

    def mark_jobs_finished(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        with self.db.write() as conn:
            conn.execute(
                update(t.events)
                .where(t.events.c.id.in_(list(event_ids)), t.events.c.finished_at.is_(None))
                .values(finished_at=_now())
            )

    def relayed_unfinished(self, after_seq: int, limit: int) -> list[StoredEvent]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.events)
                .where(
                    t.events.c.finished_at.is_(None),
                    t.events.c.dispatched_at.is_not(None),
                    t.events.c.seq > after_seq,
                )
                .order_by(t.events.c.seq)
                .limit(limit)
            ).all()
        return [_stored_event(row) for row in rows]

    def redispatch_unfinished(self, seqs: Sequence[int] | None = None) -> int:
        with self.db.write() as conn:
            if seqs is None:
                return self._redispatch_unfinished(conn)
            return sum(self._redispatch_unfinished(conn, chunk) for chunk in chunks(seqs))

    def sync_queue_epoch(self, epoch: str) -> int | None:
        with self.db.write() as conn:
            state = t.catalog_state.c
            known = conn.scalar(
                select(state.value).where(state.key == QUEUE_EPOCH).with_for_update()
            )
            if known == epoch:
                return None
            upsert(
                conn,
                t.catalog_state,
                {"key": QUEUE_EPOCH, "value": epoch},
                keys=["key"],
                update=["value"],
            )
            return self._redispatch_unfinished(conn)

    def _redispatch_unfinished(self, conn: Connection, seqs: Sequence[int] | None = None) -> int:
        statement = update(t.events).where(
            t.events.c.finished_at.is_(None), t.events.c.dispatched_at.is_not(None)
        )
        if seqs is not None:
            statement = statement.where(t.events.c.seq.in_(list(seqs)))
        result = conn.execute(statement.values(dispatched_at=None))
        return int(result.rowcount or 0)

    def events_after(
        self, seq: int, limit: int, collection: str | None = None
    ) -> list[StoredEvent]:
        conditions = [t.events.c.seq > seq]
        if collection is not None:
            conditions.append(t.events.c.collection == collection)
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.events).where(*conditions).order_by(t.events.c.seq).limit(limit)
            ).all()
        return [_stored_event(row) for row in rows]

    def last_event_seq(self) -> int:
        with self.db.read() as conn:
            return int(conn.scalar(select(func.coalesce(func.max(t.events.c.seq), 0))) or 0)

    def prune_events(self, older_than: datetime) -> int:
        with self.db.write() as conn:
            result = conn.execute(
                delete(t.events).where(
                    t.events.c.time < older_than, t.events.c.finished_at.is_not(None)
                )
            )
            return int(result.rowcount or 0)


def _stored_event(row: Row[Any]) -> StoredEvent:
    return StoredEvent(
        seq=row.seq,
        envelope=envelope(
            row.id,
            row.type,
            row.subject,
            row.time,
            row.data,
            source=row.source,
            collection=row.collection,
            request_id=row.request_id,
        ),
    )
