"""What models Sightline knows, where their files are, and whether they are ready to run.

The built-in models (`specs.py`) plus the user's (`manifest.py`, added with
`sightline models add`). Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sightline.errors import SkipFeature, UnknownModel
from sightline.models.manifest import user_specs
from sightline.models.specs import (
    BUILTIN,
    BUILTIN_NAMES,
    PREPARE_HINT,
    PREPARED_MANIFEST,
    ModelSpec,
)


class ModelUnavailable(SkipFeature):
    """The model's files are not installed: the feature is skipped with instructions."""


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    path: Path | None
    ready: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """The public description, as `sightline models list --json` and `/v1/models` give it."""
        return {
            "name": self.spec.name,
            "ready": self.ready,
            "task": self.spec.task,
            "version": self.spec.version,
            "license": self.spec.license,
            "source": self.spec.source,
            "input_size": self.spec.input_size,
            "path": str(self.path) if self.path else None,
            "detail": self.detail,
        }


def package_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


class ModelRegistry:
    """Built-in models plus the user's, looked up by name."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    def specs(self) -> list[ModelSpec]:
        return [*BUILTIN, *user_specs(self.model_dir)]

    def get(self, name: str) -> ModelSpec:
        # Built-in models first: they never change, and user models are read from disk.
        for spec in (
            (*BUILTIN, *user_specs(self.model_dir)) if name not in BUILTIN_NAMES else BUILTIN
        ):
            if spec.name == name:
                return spec
        raise UnknownModel(f"No model named {name!r}.", name=name)

    def path(self, name: str) -> Path:
        """The model's file or folder; `ModelUnavailable` (skipping the feature) when missing."""
        spec = self.get(name)
        path = spec.locate(self.model_dir)
        if path is None:
            raise ModelUnavailable(f"Model {name!r} is not installed. {spec.install_hint}")
        return path

    def status(self) -> list[ModelStatus]:
        return [self._status(spec) for spec in self.specs()]

    def _status(self, spec: ModelSpec) -> ModelStatus:
        path = spec.locate(self.model_dir)
        if path is None:
            return ModelStatus(spec, None, False, spec.install_hint)
        if spec.prepared and prepared_recipe(self.model_dir, spec.name) != spec.recipe:
            return ModelStatus(spec, path, False, f"Prepared by an older recipe. {PREPARE_HINT}")
        if spec.package is not None:
            distribution, tested = spec.package
            installed = package_version(distribution)
            if installed != tested:
                # Usable, but results may differ from what the tests and versions assume.
                detail = f"ready, but {distribution} {installed} is installed (tested: {tested})"
                return ModelStatus(spec, path, True, detail)
        return ModelStatus(spec, path, True, "ready")


def prepared_recipe(model_dir: Path, name: str) -> str | None:
    try:
        manifest = json.loads((model_dir / name / PREPARED_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    recipe = manifest.get("recipe") if isinstance(manifest, dict) else None
    return recipe if isinstance(recipe, str) else None
