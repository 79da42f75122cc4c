"""The `objects` feature over user detectors whose outputs are known boxes, in both layouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sightline.errors import SkipFeature
from sightline.models import Models
from sightline.models.manifest import add_user_model
from sightline.vision.objects import ObjectsAnalyzer
from support.analysis import result_of
from support.onnxnets import fixed_output, write_manifest

PictureOf = Any
LABELS = ["cat", "dog", "bird"]
SIZE = 64  # the detectors' input: a 200 x 100 picture is letterboxed at scale 0.32, 16 px down


def input_box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """Centre box in input pixels for a corner box in picture pixels."""
    u0, v0, u1, v1 = x0 * 0.32, y0 * 0.32 + 16, x1 * 0.32, y1 * 0.32 + 16
    return [(u0 + u1) / 2, (v0 + v1) / 2, u1 - u0, v1 - v0]


# (picture box, class scores): a cat, a lower-scored duplicate of it, a dog, a faint bird.
CANDIDATES = [
    ((20, 10, 120, 60), [0.9, 0.05, 0.0]),
    ((22, 12, 121, 61), [0.6, 0.1, 0.0]),
    ((150, 40, 190, 95), [0.1, 0.75, 0.0]),
    ((0, 0, 50, 50), [0.0, 0.0, 0.2]),
]


def yolov8_output() -> np.ndarray:
    rows = [input_box(*box) + scores for box, scores in CANDIDATES]
    return np.array(rows, dtype=np.float32).T[np.newaxis]


def yolov5_output() -> np.ndarray:
    # Objectness 1 keeps the expected scores the same in both layouts.
    rows = [input_box(*box) + [1.0] + scores for box, scores in CANDIDATES]
    return np.array(rows, dtype=np.float32)[np.newaxis]


def add_detector(
    model_dir: Path, source: Path, name: str, output: np.ndarray, **fields: Any
) -> None:
    fixed_output(source / f"{name}.onnx", output, width=SIZE, height=SIZE)
    manifest = write_manifest(
        source,
        name=name,
        kind="detector",
        model=f"{name}.onnx",
        labels=LABELS,
        input={"width": SIZE, "height": SIZE},
        **fields,
    )
    add_user_model(model_dir, manifest)


@pytest.fixture
def hub(tmp_path: Path) -> Models:
    source = tmp_path / "source"
    source.mkdir()
    model_dir = tmp_path / "models"
    add_detector(model_dir, source, "v5", yolov5_output(), format="yolov5")
    add_detector(model_dir, source, "v8", yolov8_output(), format="yolov8", confidence=0.15)
    return Models(model_dir, threads=1, idle_seconds=0)


EXPECTED = [
    {"label": "cat", "confidence": 0.9, "box": {"x": 20, "y": 10, "w": 100, "h": 50}},
    {"label": "dog", "confidence": 0.75, "box": {"x": 150, "y": 40, "w": 40, "h": 55}},
]
BIRD = {"x": 0, "y": 0, "w": 50, "h": 50}


def test_every_detector_finds_the_known_boxes_in_picture_pixels(
    hub: Models, picture_of: PictureOf
) -> None:
    analyzer = ObjectsAnalyzer(hub)
    result = result_of(analyzer, picture_of(Image.new("RGB", (200, 100), "white")))
    assert (result["width"], result["height"]) == (200, 100)
    versions = {name: hub.registry.get(name).version for name in ("v5", "v8")}
    assert [d["model"] for d in result["detectors"]] == [
        {"name": "v5", "version": versions["v5"]},
        {"name": "v8", "version": versions["v8"]},
    ]
    v5, v8 = (d["objects"] for d in result["detectors"])
    # The duplicate cat is suppressed; the faint bird is below v5's default threshold of 0.25.
    assert v5 == EXPECTED
    assert v8 == [*EXPECTED, {"label": "bird", "confidence": 0.2, "box": BIRD}]


def test_the_version_names_the_detectors(hub: Models) -> None:
    version = ObjectsAnalyzer(hub).version
    assert version == f"1;v5={hub.registry.get('v5').version};v8={hub.registry.get('v8').version}"


def test_without_a_detector_the_feature_says_how_to_add_one(
    tmp_path: Path, picture_of: PictureOf
) -> None:
    analyzer = ObjectsAnalyzer(Models(tmp_path, threads=1, idle_seconds=0))
    assert analyzer.version == "1"
    with pytest.raises(SkipFeature) as skipped:
        result_of(analyzer, picture_of(Image.new("RGB", (20, 20))))
    assert "none ships by default" in skipped.value.reason
    assert "sightline models add manifest.json" in skipped.value.reason
