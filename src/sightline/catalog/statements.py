"""Statements both SQL stores need, written once for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from sightline.catalog import tables as t
from sightline.catalog.base import JSON


def upsert(
    conn: Connection,
    table: Any,
    values: dict[str, Any],
    *,
    keys: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    if update:
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=list(keys),
                set_={name: statement.excluded[name] for name in update},
            )
        )
    else:
        conn.execute(statement.on_conflict_do_nothing(index_elements=list(keys)))


def insert_events(conn: Connection, envelopes: Sequence[JSON]) -> None:
    for event in envelopes:
        upsert(
            conn,
            t.events,
            {
                "id": event["id"],
                "type": event["type"],
                "source": event["source"],
                "subject": event["subject"],
                "time": datetime.fromisoformat(event["time"]),
                "data": event["data"],
            },
            keys=["id"],
        )
