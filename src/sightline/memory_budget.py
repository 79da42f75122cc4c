"""A semaphore counted in bytes, for work whose memory is known before it starts.

Decoding is the case in point: a picture's header says how many bytes its pixels will take, so
each decode reserves them first, and the decodes in flight together stay within the capacity
however small the files that asked for them. Turns are first come, first served: a large
reservation is not overtaken forever by a stream of small ones.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class MemoryBudget:
    """`capacity` bytes shared by the threads of one process."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"A memory budget needs at least one byte, not {capacity}.")
        self.capacity = capacity
        self._reserved = 0
        self._queue: deque[object] = deque()
        self._queued = 0
        self._changed = threading.Condition()

    @property
    def reserved(self) -> int:
        """Bytes reserved now."""
        with self._changed:
            return self._reserved

    @property
    def waiting(self) -> int:
        """Bytes asked for by reservations waiting their turn."""
        with self._changed:
            return self._queued

    @contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        """Hold `size` bytes for the block, waiting first while earlier reservations are queued
        or what is reserved leaves too little. A size over the whole capacity would wait
        forever: callers refuse such work before they reserve (`ValueError` here)."""
        if not 0 <= size <= self.capacity:
            raise ValueError(f"Cannot reserve {size} bytes of a budget of {self.capacity}.")
        turn = object()
        with self._changed:
            self._queue.append(turn)
            self._queued += size
            try:
                self._changed.wait_for(
                    lambda: self._queue[0] is turn and self._reserved + size <= self.capacity
                )
            finally:
                # Served, or interrupted while waiting: either way the next in line moves up.
                self._queue.remove(turn)
                self._queued -= size
                self._changed.notify_all()
            self._reserved += size
        try:
            yield
        finally:
            with self._changed:
                self._reserved -= size
                self._changed.notify_all()
