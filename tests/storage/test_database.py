"""The database's write transactions: a full disk is `InsufficientStorage`, and the
transaction leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from sightline.errors import InsufficientStorage
from sightline.storage.database import Database


def test_a_full_sqlite_database_is_insufficient_storage_and_rolls_back(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'full.db'}")
    try:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE notes (body TEXT)"))
        with pytest.raises(InsufficientStorage, match="disk is full"):
            with db.write() as conn:
                conn.execute(text("INSERT INTO notes VALUES ('kept? no')"))
                # SQLite's own limit on the file's size: it then fails as on a full disk.
                pages = conn.execute(text("PRAGMA page_count")).scalar_one()
                conn.execute(text(f"PRAGMA max_page_count = {pages}"))
                conn.execute(text("INSERT INTO notes VALUES (:body)"), {"body": "x" * 100_000})
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 0
    finally:
        db.dispose()
