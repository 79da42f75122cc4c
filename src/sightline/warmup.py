"""Models loaded at start-up, in the background, so the first upload does not wait for them.

A process that runs workers loads the models of its default features (the ones an upload that
names none runs) in one background thread as soon as it starts; the process answers, and takes
uploads, meanwhile: an upload analysed before its models are in waits only for what is left of
their loading, never loads them twice. Loading counts as a use, so a model nobody then uses is
unloaded after `SIGHTLINE_MODEL_IDLE_SECONDS` like any other. The readiness component `models`
says `degraded` with the models still loading until they are all in (`/readyz`,
`sightline_component_up`), then what the prepared models say.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sightline.health import Degraded
from sightline.models import LazyModel
from sightline.vision import Analyzer

log = logging.getLogger(__name__)


def model_handles(analyzer: Analyzer) -> list[LazyModel[Any]]:
    """The models an analyzer holds: its `LazyModel` attributes, and those of the parts it
    keeps (the detectors of `objects`), found rather than declared so that a new analyzer
    is warmed without listing its models twice."""
    found: list[LazyModel[Any]] = []
    for value in _parts(analyzer, depth=2):
        if isinstance(value, LazyModel) and all(value is not seen for seen in found):
            found.append(value)
    return found


def _parts(holder: object, depth: int) -> Iterator[object]:
    for value in getattr(holder, "__dict__", {}).values():
        members = value if isinstance(value, list | tuple) else (value,)
        for member in members:
            yield member
            if depth > 1 and not isinstance(member, LazyModel) and hasattr(member, "__dict__"):
                yield from _parts(member, depth - 1)


class ModelWarmup:
    """Loads the models of `features` once, in a background thread (`start`)."""

    def __init__(self, analyzers: Mapping[str, Analyzer], features: Iterable[str]) -> None:
        handles: list[LazyModel[Any]] = []
        for feature in features:
            analyzer = analyzers.get(feature)
            for handle in model_handles(analyzer) if analyzer is not None else []:
                if all(handle is not seen for seen in handles):
                    handles.append(handle)
        self.handles = handles
        self._waiting = [handle.name for handle in handles]
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._warm, name="sightline-warm-models", daemon=True).start()

    def stop(self) -> None:
        """Loads no further model: the process is closing."""
        self._stopped.set()

    def warming(self) -> list[str]:
        """The models still to load (none once warm-up is over, loaded or not)."""
        with self._lock:
            return list(self._waiting)

    def check(self) -> Degraded | None:
        """The readiness of warm-up: degraded while models are loading."""
        waiting = self.warming()
        if not waiting:
            return None
        return Degraded(
            f"warming up, loading {', '.join(waiting)}: uploads are taken, and analysed once "
            "their models are in"
        )

    def _warm(self) -> None:
        began = time.perf_counter()
        for handle in self.handles:
            if self._stopped.is_set():
                break
            try:
                with handle.acquire():  # loads it; counted as a use by the idle unloading
                    pass
            except Exception as exc:  # an unprepared model: its features are skipped anyway
                log.warning("Warming model %s failed: %s", handle.name, exc)
            finally:
                with self._lock:
                    self._waiting.remove(handle.name)
        if self.handles:
            log.info("Warmed %d models in %.1f s", len(self.handles), time.perf_counter() - began)
