"""The `adult` feature on nudenet's 320n model: ordinary photos raise no flag, results agree with
nudenet's own decoding, and the flags follow the documented categories (checked on a synthetic
model output: no explicit picture is made or fetched)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import skimage.data
from PIL import Image

from sightline.models import LazyModel, Models
from sightline.vision.adult import CATEGORIES, LABELS, AdultAnalyzer
from support.analysis import result_of

PictureOf = Any
ORDINARY = ("astronaut", "coffee", "chelsea", "rocket")


@pytest.fixture(scope="module")
def analyzer(models: Models) -> AdultAnalyzer:
    return AdultAnalyzer(models)


def test_labels_are_nudenets_own_in_output_order() -> None:
    import nudenet.nudenet

    assert list(LABELS) == getattr(nudenet.nudenet, "__labels")
    assert set(CATEGORIES) == set(LABELS)


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_photos_are_neither_adult_nor_racy(
    analyzer: AdultAnalyzer, picture_of: PictureOf, name: str
) -> None:
    pixels = getattr(skimage.data, name)()
    result = result_of(analyzer, picture_of(Image.fromarray(pixels)))
    assert result["model"] == {"name": "nudenet-320n", "version": "1"}
    assert (result["height"], result["width"]) == pixels.shape[:2]
    assert not result["is_adult"] and not result["is_racy"]
    assert result["adult_score"] < 0.5 and result["racy_score"] < 0.5


def test_the_astronauts_face_is_found(analyzer: AdultAnalyzer, picture_of: PictureOf) -> None:
    result = result_of(analyzer, picture_of(Image.fromarray(skimage.data.astronaut())))
    (face,) = result["detections"]
    assert face["label"] == "FACE_FEMALE" and face["category"] == "none"
    assert face["confidence"] > 0.7
    box = face["box"]
    assert 160 < box["x"] < 190 and 70 < box["y"] < 95 and 90 < box["w"] < 115


def test_detections_match_nudenets_own(analyzer: AdultAnalyzer, picture_of: PictureOf) -> None:
    from nudenet import NudeDetector

    pixels = skimage.data.astronaut()
    # Given an array, nudenet's two channel swaps cancel out: the model sees these RGB pixels.
    expected = NudeDetector().detect(np.ascontiguousarray(pixels))
    found = result_of(analyzer, picture_of(Image.fromarray(pixels)))["detections"]
    assert [d["label"] for d in found] == [d["class"] for d in expected]
    for ours, theirs in zip(found, expected, strict=True):
        assert ours["confidence"] == pytest.approx(theirs["score"], abs=1e-3)
        box = ours["box"]
        np.testing.assert_allclose([box["x"], box["y"], box["w"], box["h"]], theirs["box"], atol=2)


class FixedSession:
    """Stands in for the model: returns a prepared `[1, 22, 2100]` output."""

    def __init__(self, output: np.ndarray) -> None:
        self.output = output

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="images")]

    def run(self, names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert feed["images"].shape == (1, 3, 320, 320)
        return [self.output]


def synthetic_output(parts: list[tuple[str, float, tuple[float, float, float, float]]]) -> Any:
    """Candidates for a 640 x 480 picture: padded at the bottom, then scaled by 0.5."""
    output = np.zeros((1, 4 + len(LABELS), 2100), dtype=np.float32)
    for column, (label, score, (x0, y0, x1, y1)) in enumerate(parts):
        output[0, :4, column] = [(x0 + x1) / 4, (y0 + y1) / 4, (x1 - x0) / 2, (y1 - y0) / 2]
        output[0, 4 + LABELS.index(label), column] = score
    return output


def run_on(models: Models, picture_of: PictureOf, output: np.ndarray) -> Any:
    analyzer = AdultAnalyzer(models)
    analyzer.model = LazyModel("fixed", lambda: FixedSession(output))
    return result_of(analyzer, picture_of(Image.new("RGB", (640, 480), "grey")))


def test_flags_follow_the_categories(models: Models, picture_of: PictureOf) -> None:
    output = synthetic_output(
        [
            ("BUTTOCKS_EXPOSED", 0.91, (100, 50, 300, 250)),
            ("FEMALE_BREAST_COVERED", 0.62, (400, 100, 500, 200)),
            ("FACE_FEMALE", 0.8, (420, 10, 480, 90)),
            ("FEET_EXPOSED", 0.1, (0, 400, 50, 450)),  # below the detection threshold
        ]
    )
    result = run_on(models, picture_of, output)
    assert (result["is_adult"], result["adult_score"]) == (True, 0.91)
    assert (result["is_racy"], result["racy_score"]) == (True, 0.62)
    assert [(d["label"], d["category"], d["confidence"]) for d in result["detections"]] == [
        ("BUTTOCKS_EXPOSED", "adult", 0.91),
        ("FACE_FEMALE", "none", 0.8),
        ("FEMALE_BREAST_COVERED", "racy", 0.62),
    ]
    assert result["detections"][0]["box"] == {"x": 100, "y": 50, "w": 200, "h": 200}


def test_weak_or_neutral_parts_raise_no_flag(models: Models, picture_of: PictureOf) -> None:
    output = synthetic_output(
        [
            ("MALE_GENITALIA_EXPOSED", 0.45, (100, 50, 300, 250)),
            ("ARMPITS_EXPOSED", 0.95, (400, 100, 500, 200)),
        ]
    )
    result = run_on(models, picture_of, output)
    assert (result["is_adult"], result["adult_score"]) == (False, 0.45)
    assert (result["is_racy"], result["racy_score"]) == (False, 0.0)


def test_overlapping_parts_suppress_each_other_across_classes(
    models: Models, picture_of: PictureOf
) -> None:
    output = synthetic_output(
        [
            ("FACE_FEMALE", 0.7, (100, 100, 200, 200)),
            ("FACE_MALE", 0.5, (102, 100, 200, 202)),
        ]
    )
    detections = run_on(models, picture_of, output)["detections"]
    assert [d["label"] for d in detections] == ["FACE_FEMALE"]


def test_the_version_names_the_model_version(models: Models, analyzer: AdultAnalyzer) -> None:
    assert analyzer.version == f"1-{models.registry.get('nudenet-320n').version}"
