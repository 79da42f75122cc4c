"""Work that processes running workers repeat in the background: sweeps, inbox reconciliation."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from sightline.errors import SightlineError

log = logging.getLogger(__name__)


class Schedule:
    """Runs `task` in a background thread: once at start-up, then every `interval_seconds` (give
    or take a tenth, so that processes started together do not do it together); 0: never.

    The task gets an event that is set when the schedule stops, to end a long run early; what it
    returns is logged when true (something was done). A failure is logged and retried next time.
    """

    def __init__(
        self, name: str, task: Callable[[threading.Event], object], interval_seconds: float
    ) -> None:
        self.name = name
        self.task = task
        self.interval_seconds = interval_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.interval_seconds:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"sightline-{self.name.replace(' ', '-')}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                done = self.task(self._stopping)
                if done:
                    log.info("%s", done)
            except SightlineError as exc:
                log.warning("The %s failed, retrying later: %s", self.name, exc.message)
            except Exception:
                log.exception("The %s failed; retrying later", self.name)
            self._stopping.wait(self.interval_seconds * random.uniform(0.9, 1.1))
