"""Change marks: what lets a process cache something other processes change, and still rely on it
only where it is current.

The transaction of every change to such a thing renews its mark, a random token kept in
`catalog_state`. A cached copy remembers the mark it was read under; a transaction relying on the
copy checks, by one key lookup, that the mark still holds, and is refused with `MarkMoved`
otherwise. A random token, not a counter: concurrent changes need no read, and no two changes
can leave the same mark.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from sightline.storage import tables as t
from sightline.storage.statements import upsert


@dataclass(frozen=True)
class ChangeMark:
    name: str  # what changed, e.g. "classifiers"
    token: str | None  # None: it never changed since the catalog was made


# Built once, its value bound per call: compiled once too, as it is read by every upload.
READ_MARK = select(t.catalog_state.c.value).where(t.catalog_state.c.key == bindparam("key"))


class MarkMoved(Exception):
    """A transaction relied on a cached copy that another change made stale: read it again."""


def _key(name: str) -> str:
    return f"{name}_changed"


def renew(conn: Connection, name: str) -> None:
    """Mark `name` changed, in the transaction of the change."""
    upsert(
        conn,
        t.catalog_state,
        {"key": _key(name), "value": secrets.token_hex(16)},
        keys=["key"],
        update=["value"],
    )


def current(conn: Connection, name: str) -> ChangeMark:
    """`name`'s mark now; read it before what it guards, so a change between the two reads
    leaves an older mark, which `check` then refuses."""
    return ChangeMark(name, conn.scalar(READ_MARK, {"key": _key(name)}))


def check(conn: Connection, mark: ChangeMark) -> None:
    """`MarkMoved` unless `mark` still holds."""
    if current(conn, mark.name) != mark:
        raise MarkMoved(mark.name)
