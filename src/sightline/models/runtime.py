"""Loaded models: created lazily on first use, shared by every thread of a process, and
unloaded after sitting idle so a quiet worker gives its memory back."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

import onnxruntime as ort

log = logging.getLogger(__name__)
T = TypeVar("T")


SessionFactory = Callable[[Path | bytes], ort.InferenceSession]
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def execution_providers(device: str, available: Sequence[str]) -> tuple[str, ...]:
    """Where sessions run, in onnxruntime's order of preference: with `device` "auto", a CUDA
    GPU when onnxruntime offers one (onnxruntime-gpu installed and a device present), with the
    CPU behind it for operators CUDA lacks; with "cpu", the CPU alone."""
    if device == "auto" and CUDA in available:
        return (CUDA, CPU)
    return (CPU,)


def onnx_session(
    model: Path | bytes, threads: int, providers: Sequence[str] = (CPU,)
) -> ort.InferenceSession:
    """A session with its thread pools sized deliberately: the worker threads of a process
    already run models side by side, so each session gets its share of the cores, not all."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle intra-op threads would otherwise spin on cores the other workers' models need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=list(providers))


class LazyModel(Generic[T]):
    """One model: loaded by the first `acquire`, kept while used, dropped when idle."""

    def __init__(self, name: str, load: Callable[[], T]) -> None:
        self.name = name
        self._load = load
        self._lock = threading.Lock()
        self._model: T | None = None
        self._users = 0
        self._last_used = 0.0

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @contextmanager
    def acquire(self) -> Iterator[T]:
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = self._load()
                log.info("Loaded model %s in %.2f s", self.name, time.perf_counter() - started)
            model = self._model
            self._users += 1
        try:
            yield model
        finally:
            with self._lock:
                self._users -= 1
                self._last_used = time.monotonic()

    def unload_if_idle(self, idle_seconds: float, now: float) -> bool:
        with self._lock:
            if self._model is None or self._users or now - self._last_used < idle_seconds:
                return False
            self._model = None
        log.info("Unloaded model %s after %.0f s idle", self.name, idle_seconds)
        return True


class ModelCache:
    """The process's models by key. A reaper thread, started with the first model, unloads
    those idle longer than `idle_seconds` (0 keeps them loaded for the process's life)."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._models: dict[str, LazyModel[object]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def get(self, key: str, load: Callable[[], T]) -> LazyModel[T]:
        """The model under `key`, registered (not loaded) on first request."""
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = LazyModel(key, load)
                self._models[key] = model
                self._start_reaper()
            return model  # type: ignore[return-value]

    def loaded(self) -> list[str]:
        with self._lock:
            return sorted(key for key, model in self._models.items() if model.loaded)

    def unload_idle(self, now: float | None = None) -> list[str]:
        if self.idle_seconds <= 0:
            return []
        moment = time.monotonic() if now is None else now
        with self._lock:
            models = list(self._models.values())
        return [m.name for m in models if m.unload_if_idle(self.idle_seconds, moment)]

    def close(self) -> None:
        self._stop.set()
        if self._reaper is not None:
            self._reaper.join(timeout=5)

    def _start_reaper(self) -> None:
        if self._reaper is not None or self.idle_seconds <= 0:
            return
        self._reaper = threading.Thread(target=self._reap, name="model-reaper", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        interval = min(max(self.idle_seconds / 4, 0.05), 30.0)
        while not self._stop.wait(interval):
            self.unload_idle()
