"""Pretrained models: which exist, where their files are, and one loaded copy per process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import onnxruntime as ort

from sightline.models.registry import ModelRegistry, ModelStatus, ModelUnavailable
from sightline.models.runtime import LazyModel, ModelCache, onnx_session
from sightline.models.specs import ModelSpec
from sightline.settings import Settings

T = TypeVar("T")

__all__ = [
    "LazyModel",
    "ModelRegistry",
    "ModelSpec",
    "ModelStatus",
    "ModelUnavailable",
    "Models",
]


class Models:
    """The registry plus this process's loaded models. Analyzers ask it for lazy handles when
    they are built, so building analyzers loads nothing."""

    def __init__(self, model_dir: Path, *, threads: int, idle_seconds: float) -> None:
        self.registry = ModelRegistry(model_dir)
        self.cache = ModelCache(idle_seconds)
        self.threads = threads

    @classmethod
    def from_settings(cls, settings: Settings) -> Models:
        return cls(
            settings.model_dir,
            threads=settings.resolved_model_threads(),
            idle_seconds=settings.model_idle_seconds,
        )

    def loaded(self) -> list[str]:
        """Names of the models loaded now (several handles of one model count once)."""
        return sorted({key.split(":")[0] for key in self.cache.loaded()})

    def onnx(self, name: str) -> LazyModel[ort.InferenceSession]:
        """A plain onnxruntime session over the model's file."""
        return self.load(name, lambda path: onnx_session(path, self.threads), key=f"{name}:onnx")

    def load(
        self, name: str, build: Callable[[Path], T], *, key: str | None = None
    ) -> LazyModel[T]:
        """A model built by `build` from its file or folder, looked up when it loads; a missing
        one skips the feature. Handles are shared by `key` (default: the model's name), so a
        process holds one loaded copy."""
        return self.cache.get(key or name, lambda: build(self.registry.path(name)))

    def close(self) -> None:
        self.cache.close()
