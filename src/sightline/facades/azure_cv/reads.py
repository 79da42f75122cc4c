"""Read operations' answers, kept for polling. `POST /read/analyze` runs the `read` feature
through the same pipeline as `/v1/analyze`, synchronously, and keeps the finished answer here
under a fresh operation id; `GET /read/analyzeResults/{id}` gives it back until it expires.

The answers live in the API process's memory: with several API replicas behind a load
balancer, the poll must reach the replica that ran the operation (sticky sessions, or one API
replica for this facade), or it is answered 404, as an unknown or expired operation is. An
operation is never "running" when polled: by the time its id is known, it has succeeded."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

# The service keeps Read results for 48 hours.
KEEP_SECONDS = 48 * 3600
# Read answers are a few kilobytes to some hundreds; the oldest go first past this many.
MAX_OPERATIONS = 1000


class ReadOperations:
    def __init__(
        self,
        keep_seconds: float = KEEP_SECONDS,
        max_operations: int = MAX_OPERATIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_seconds = keep_seconds
        self.max_operations = max_operations
        self.clock = clock
        self._answers: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, operation_id: str, answer: dict[str, Any]) -> None:
        with self._lock:
            self._forget_expired()
            self._answers[operation_id] = (self.clock() + self.keep_seconds, answer)
            while len(self._answers) > self.max_operations:
                self._answers.popitem(last=False)

    def get(self, operation_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._forget_expired()
            kept = self._answers.get(operation_id)
            return None if kept is None else kept[1]

    def _forget_expired(self) -> None:
        now = self.clock()
        while self._answers:
            expires, _answer = next(iter(self._answers.values()))
            if expires > now:
                break
            self._answers.popitem(last=False)
