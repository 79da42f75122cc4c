"""Group commit: changes queued while a transaction runs are written together in the next one,
each answered with its own outcome; a change that fails fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from sightline.storage.database import Database
from sightline.storage.group_commit import GroupCommit


@pytest.fixture
def notes(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'notes.db'}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT UNIQUE)"))
    yield db
    db.dispose()


def commits(db: Database) -> list[int]:
    """A list that counts the commits of `db` from now on."""
    seen: list[int] = []

    @event.listens_for(db.engine, "commit")
    def _commit(_conn: Any) -> None:
        seen.append(1)

    return seen


def stored(db: Database) -> list[str]:
    with db.read() as conn:
        return sorted(conn.execute(text("SELECT body FROM notes")).scalars())


class HeldFirst:
    """Writes notes and answers their row ids; the first write waits for `release`, so that
    others queue behind it meanwhile."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.first = True

    def __call__(self, conn: Connection, bodies: Sequence[str]) -> list[int]:
        if self.first:
            self.first = False
            assert self.release.wait(10)
        row_ids = []
        for body in bodies:
            if body == "bad":
                raise ValueError("no bad notes")
            conn.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})
            row_ids.append(int(conn.execute(text("SELECT last_insert_rowid()")).scalar_one()))
        return row_ids


def queue_behind_the_first(
    group: GroupCommit[str, int], write: HeldFirst, bodies: list[str]
) -> list[Future[int]]:
    """Submits bodies[0], which holds the transaction, then the rest, and lets the first go
    once all the rest are queued."""
    pool = ThreadPoolExecutor(len(bodies))
    futures = [pool.submit(group.submit, bodies[0])]
    while write.first:  # the first has begun its transaction
        time.sleep(0.001)
    futures += [pool.submit(group.submit, body) for body in bodies[1:]]
    deadline = time.monotonic() + 10
    while len(group._queue) < len(bodies) - 1:  # noqa: SLF001 - when all wait is the test's point
        assert time.monotonic() < deadline
        time.sleep(0.001)
    write.release.set()
    pool.shutdown(wait=True)
    return futures


def test_changes_queued_during_a_transaction_commit_together_in_the_next(
    notes: Database,
) -> None:
    write = HeldFirst()
    group = GroupCommit(notes, write)
    counted = commits(notes)
    bodies = [f"note {n}" for n in range(10)]

    futures = queue_behind_the_first(group, write, bodies)

    assert len(counted) == 2  # the first alone, then the nine that queued behind it
    row_ids = [future.result() for future in futures]
    assert sorted(row_ids) == list(range(1, 11))  # each answered its own row
    assert stored(notes) == sorted(bodies)


def test_a_change_that_fails_fails_alone_and_the_rest_of_its_group_is_written(
    notes: Database,
) -> None:
    write = HeldFirst()
    group = GroupCommit(notes, write)
    bodies = ["first", "a", "bad", "b", "a"]  # "bad" raises; the second "a" breaks UNIQUE

    futures = queue_behind_the_first(group, write, bodies)

    outcomes: list[Any] = []
    for future in futures:
        error = future.exception()
        outcomes.append(type(error).__name__ if error else "ok")
    assert outcomes.count("ok") == 3
    assert outcomes[2] == "ValueError"
    assert "IntegrityError" in outcomes
    assert stored(notes) == ["a", "b", "first"]


def test_a_group_is_bounded_and_the_rest_follows_in_the_next(notes: Database) -> None:
    write = HeldFirst()
    group = GroupCommit(notes, write, max_group=3)
    counted = commits(notes)
    bodies = [f"note {n}" for n in range(8)]

    futures = queue_behind_the_first(group, write, bodies)

    assert len(counted) == 4  # the first, then 7 queued in groups of at most 3
    assert all(future.result() for future in futures)
    assert stored(notes) == sorted(bodies)
