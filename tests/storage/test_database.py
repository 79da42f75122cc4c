"""The database's transactions: a full disk is `InsufficientStorage` and the transaction
leaves nothing behind; a snapshot reads one moment; SQLite's online copy and restore."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from sightline.errors import ConfigurationError, InsufficientStorage
from sightline.storage.database import Database


@pytest.fixture
def notes(empty_catalog_url: str) -> Iterator[Database]:
    db = Database(empty_catalog_url)
    with db.write() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT)"))
    yield db
    db.dispose()


def count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM notes")).scalar_one())


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


def test_a_snapshot_does_not_see_what_commits_after_its_first_read(notes: Database) -> None:
    with notes.snapshot() as conn:
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 0
        with notes.write() as other:
            other.execute(text("INSERT INTO notes VALUES ('later')"))
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 0
    assert count(notes) == 1


def test_an_online_copy_is_one_moment_while_writers_go_on(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT)"))
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            with db.write() as conn:  # two rows per transaction: a copy never holds an odd count
                conn.execute(text("INSERT INTO notes VALUES ('a'), ('b')"))

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while count(db) < 100:
            pass
        db.copy_to(tmp_path / "copy.db")
    finally:
        stop.set()
        writer.join()
    copy = Database(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        copied = count(copy)
        assert copied >= 100 and copied % 2 == 0
        db.restore_from(tmp_path / "copy.db")
        assert count(db) == copied
    finally:
        copy.dispose()
        db.dispose()


def test_only_an_sqlite_file_can_be_copied(tmp_path: Path) -> None:
    db = Database("sqlite:///:memory:")
    with pytest.raises(ConfigurationError, match="not an SQLite database file"):
        db.copy_to(tmp_path / "copy.db")
