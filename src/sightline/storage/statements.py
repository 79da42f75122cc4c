"""Statements both SQL stores need, written once for SQLite and PostgreSQL.

Seq order: readers follow `events` and `image_vectors` by their `seq` with a watermark ("every
row up to seq N seen"). On PostgreSQL a sequence hands out numbers at insert time, not at commit,
so two transactions can commit seqs 11 and 10 in that order, and a reader that saw 11 would skip
10 for good. Inserting into either table first takes a transaction-scoped advisory lock for it:
the next transaction to insert waits until this one has committed, so seqs become visible in
order. Callers insert these rows as late as they can in a transaction, after any slow work (blob
writes), so the lock is held briefly. SQLite has one writer at a time, so order is given.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from sightline.events import COLLECTION_ATTRIBUTE, REQUEST_ID_ATTRIBUTE
from sightline.storage import tables as t
from sightline.storage.records import JSON

T = TypeVar("T")
# Items per statement where a list becomes bound parameters (`IN (...)`, multi-row inserts):
# SQLite limits the parameters of one statement.
CHUNK = 500


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def upsert(
    conn: Connection,
    table: Any,
    values: dict[str, Any] | Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    conn.execute(_upsert_statement(conn.dialect.name, table, tuple(keys), tuple(update)), values)


@functools.cache
def _upsert_statement(
    dialect_name: str, table: Any, keys: tuple[str, ...], update: tuple[str, ...]
) -> Any:
    """Built once per table and conflict rule, the values bound as parameters: SQLAlchemy then
    compiles it once too, instead of building, keying and looking it up on every call."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    if update:
        return statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: statement.excluded[name] for name in update}
        )
    return statement.on_conflict_do_nothing(index_elements=list(keys))


# One advisory lock key per table whose seq readers follow; a transaction that takes both takes
# the vector one first (finish_features stores vectors, then its completion event).
SEQ_LOCKS = {t.image_vectors.name: 7316456, t.events.name: 7316457, t.faces.name: 7316458}


def hold_seq_order(conn: Connection, table: Any) -> None:
    """Call just before inserting into `table` (see the module docstring)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(SEQ_LOCKS[table.name])))


def insert_events(conn: Connection, envelopes: Sequence[JSON]) -> None:
    if not envelopes:
        return
    hold_seq_order(conn, t.events)
    upsert(
        conn,
        t.events,
        [
            {
                "id": event["id"],
                "type": event["type"],
                "source": event["source"],
                "subject": event["subject"],
                "time": datetime.fromisoformat(event["time"]),
                "data": event["data"],
                "collection": event.get(COLLECTION_ATTRIBUTE),
                "request_id": event.get(REQUEST_ID_ATTRIBUTE),
            }
            for event in envelopes
        ],
        keys=["id"],
    )
