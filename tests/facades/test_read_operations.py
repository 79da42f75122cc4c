"""Read answers kept in the catalog for polling: any process on the same catalog gives them
back, only to their collection, until they expire; expired ones are removed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sightline.facades.azure_cv.reads import KEEP, SQLReadOperations
from sightline.storage import tables as t
from sightline.storage.database import Database
from support.catalogs import migrate


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def replicas(catalog_url: str) -> Iterator[tuple[Database, Database]]:
    """Two processes' connections to one catalog."""
    migrate(catalog_url)  # SQLite's comes unmigrated
    first, second = Database(catalog_url), Database(catalog_url)
    yield first, second
    first.dispose()
    second.dispose()


def kept_rows(db: Database) -> int:
    with db.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(t.read_operations)) or 0)


def test_an_operation_kept_by_one_replica_is_read_by_another(
    replicas: tuple[Database, Database],
) -> None:
    here, there = (SQLReadOperations(db) for db in replicas)
    answer = {"status": "succeeded", "analyzeResult": {"readResults": [{"page": 1}]}}
    here.keep("op-1", "default", answer)
    assert there.get("op-1", None) == answer
    assert there.get("op-1", "default") == answer
    assert there.get("op-1", "other") is None  # a key bound to another collection
    assert there.get("op-2", None) is None


def test_an_operation_expires_after_48_hours_and_is_removed(
    replicas: tuple[Database, Database],
) -> None:
    clock = Clock()
    here, there = (SQLReadOperations(db, clock=clock) for db in replicas)
    here.keep("old", "default", {"status": "succeeded"})
    clock.now += KEEP - timedelta(seconds=1)
    here.keep("new", "default", {"status": "succeeded"})
    assert there.get("old", None) == {"status": "succeeded"}
    clock.now += timedelta(seconds=1)
    assert there.get("old", None) is None  # expired: gone on read
    assert kept_rows(replicas[0]) == 1
    clock.now += KEEP
    assert there.forget_expired() == 1  # as the maintenance schedule does
    assert kept_rows(replicas[0]) == 0
