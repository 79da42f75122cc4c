"""Pretrained models: which exist, where their files are, and one loaded copy per process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import onnxruntime as ort

from sightline.models.registry import ModelRegistry, ModelStatus, ModelUnavailable
from sightline.models.runtime import LazyModel, ModelCache, execution_providers, onnx_session
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

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int,
        idle_seconds: float,
        precision: str = "int8",
        device: str = "auto",
    ) -> None:
        self.registry = ModelRegistry(model_dir)
        self.cache = ModelCache(idle_seconds)
        self.threads = threads
        self.precision = precision  # "int8": analyzers use a model's quantized copy if it has one
        self.providers = execution_providers(device, ort.get_available_providers())

    @classmethod
    def from_settings(cls, settings: Settings) -> Models:
        return cls(
            settings.model_dir,
            threads=settings.resolved_model_threads(),
            idle_seconds=settings.model_idle_seconds,
            precision=settings.model_precision,
            device=settings.model_device,
        )

    def loaded(self) -> list[str]:
        """Names of the models loaded now (several handles of one model count once)."""
        return sorted({key.split(":")[0] for key in self.cache.loaded()})

    def int8(self, name: str) -> str | None:
        """The prepared model holding `name`'s int8 copy, when the precision is int8 and the
        copy has been prepared; otherwise the original runs, as before `models prepare` made
        it. Analyzers that use it say so in their version (`<algorithm>-<model>-int8`):
        results differ a little from the original model's."""
        copy = self.registry.get(name).int8
        if self.precision != "int8" or not copy:
            return None
        return copy if self.registry.get(copy).locate(self.registry.model_dir) else None

    def session(self, model: Path | bytes) -> ort.InferenceSession:
        """An onnxruntime session with this process's threads and execution providers."""
        return onnx_session(model, self.threads, self.providers)

    def onnx(self, name: str) -> LazyModel[ort.InferenceSession]:
        """A plain onnxruntime session over the model's file."""
        return self.load(name, self.session, key=f"{name}:onnx")

    def load(
        self, name: str, build: Callable[[Path], T], *, key: str | None = None
    ) -> LazyModel[T]:
        """A model built by `build` from its file or folder, looked up when it loads; a missing
        one skips the feature. Handles are shared by `key` (default: the model's name), so a
        process holds one loaded copy."""
        return self.cache.get(key or name, lambda: build(self.registry.path(name)))

    def close(self) -> None:
        self.cache.close()
