"""Group commit: writes from many threads, made together in one transaction.

SQLite takes one writer at a time. Under concurrent uploads each one queued for the write lock,
then began, wrote its few rows and committed alone: the lock's hand-overs and the transactions'
fixed costs, not the rows, bounded ingest (issue 18). Here the thread that takes the lock first
writes every change queued by then, its own and the waiting threads', in one transaction (and
as few statements as the writer makes of them); the others find theirs done when they get the
lock, or lead the next group.

What one change does is unchanged, and so is what it answers: when a group's transaction
fails (a change breaks a constraint, the disk is full), each of its changes is written again in
a transaction of its own, so only the change at fault fails, with its own error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Connection

from sightline.storage.database import Database

Change = TypeVar("Change")
Outcome = TypeVar("Outcome")

# A group's transaction keeps the database's write lock for its whole length, which readers of
# an embedded catalog do not wait for (WAL) but other writers do: bounded so that one group
# stays within a few tens of milliseconds.
MAX_GROUP = 32


class _Queued(Generic[Change, Outcome]):
    __slots__ = ("answered", "change", "done", "error", "outcome")

    def __init__(self, change: Change) -> None:
        self.change = change
        self.done = False
        self.answered = False
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None

    def answer(self) -> Outcome:
        if self.error is not None:
            raise self.error
        return self.outcome  # type: ignore[return-value]


class GroupCommit(Generic[Change, Outcome]):
    """`submit(change)` writes `change` and returns its outcome, or raises what writing it
    raised, as if in a transaction of its own. `write(conn, changes)` writes a group of changes
    and returns their outcomes, in order."""

    def __init__(
        self,
        db: Database,
        write: Callable[[Connection, Sequence[Change]], Sequence[Outcome]],
        max_group: int = MAX_GROUP,
    ) -> None:
        self.db = db
        self.write = write
        self.max_group = max_group
        self._queue: list[_Queued[Change, Outcome]] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()

    def submit(self, change: Change) -> Outcome:
        queued: _Queued[Change, Outcome] = _Queued(change)
        with self._queue_lock:
            self._queue.append(queued)
        while True:
            with self._leader:
                if queued.done:
                    return queued.answer()
                with self._queue_lock:
                    group = self._queue[: self.max_group]
                    del self._queue[: self.max_group]
                self._commit(group)
            # A full queue may have left this change to the next group.
            if queued.done:
                return queued.answer()

    def _commit(self, group: list[_Queued[Change, Outcome]]) -> None:
        try:
            if len(group) > 1:
                try:
                    self._write(group)
                    return
                except Exception:  # one change at fault fails the group: each goes alone
                    pass
            for queued in group:
                try:
                    self._write([queued])
                except Exception as exc:
                    queued.error = exc
        except BaseException as exc:  # interrupted: what was not written learns why
            for queued in group:
                if not queued.answered and queued.error is None:
                    queued.error = exc
            raise
        finally:
            for queued in group:
                queued.done = True

    def _write(self, group: list[_Queued[Change, Outcome]]) -> None:
        with self.db.write() as conn:
            outcomes = self.write(conn, [queued.change for queued in group])
        for queued, outcome in zip(group, outcomes, strict=True):
            queued.outcome = outcome
            queued.answered = True
