"""The `people` feature with the real MoveNet MultiPose model, on scikit-image's sample photographs.

`astronaut()` (512x512) shows Eileen Collins from the waist up, facing the camera, her face
about x 182-270, y 58-178.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from skimage import data

from sightline.models import Models
from sightline.vision import Picture
from sightline.vision.base import JSON
from sightline.vision.people import MODEL, PeopleAnalyzer, square_input
from sightline.vision.yolo import Transform
from support.analysis import result_of

PictureOf = Callable[..., Picture]
COCO_KEYPOINTS = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
]


@pytest.fixture(scope="module")
def analyzer(models: Models) -> PeopleAnalyzer:
    return PeopleAnalyzer(models)


@pytest.fixture
def people(analyzer: PeopleAnalyzer, picture_of: PictureOf) -> Callable[[Image.Image], JSON]:
    def run(image: Image.Image) -> JSON:
        result = result_of(analyzer, picture_of(image))
        json.dumps(result, allow_nan=False)
        return result

    return run


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def keypoints(person: JSON) -> dict[str, JSON]:
    return {point["name"]: point for point in person["keypoints"]}


def test_astronaut_is_one_person(people: Callable[[Image.Image], JSON]) -> None:
    result = people(astronaut())
    assert result["model"] == {"name": MODEL, "version": "1"}
    assert (result["width"], result["height"]) == (512, 512)
    [person] = result["people"]
    assert 0.3 <= person["confidence"] <= 1
    box = person["box"]
    # The upper body: from above her head to the bottom edge, her shoulders and arms inside.
    assert box["y"] < 40 and box["y"] + box["h"] > 480
    assert box["x"] < 120 and box["x"] + box["w"] > 330
    assert [point["name"] for point in person["keypoints"]] == COCO_KEYPOINTS
    assert all(0 <= point["confidence"] <= 1 for point in person["keypoints"])
    points = keypoints(person)
    assert 182 < points["nose"]["x"] < 270 and 58 < points["nose"]["y"] < 178
    # Left and right are hers: facing the camera, her left eye is on the picture's right.
    assert points["right_eye"]["x"] < points["nose"]["x"] < points["left_eye"]["x"]
    assert points["right_shoulder"]["x"] < points["left_shoulder"]["x"]
    for side in ("left", "right"):
        assert points[f"{side}_shoulder"]["confidence"] > 0.3
        assert points[f"{side}_shoulder"]["y"] > points["nose"]["y"] + 50


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_no_people_in_pictures_without_people(
    people: Callable[[Image.Image], JSON], name: str
) -> None:
    image = Image.fromarray(getattr(data, name)())
    result = people(image)
    assert (result["width"], result["height"]) == image.size
    assert result["people"] == []


def test_coordinates_are_mapped_back_through_the_padding(
    people: Callable[[Image.Image], JSON],
) -> None:
    """She is found at the same place on either half of a wide picture (which the model sees
    with black bands above and below), shifted by 512 pixels."""
    found = {}
    for left in (0, 512):
        canvas = Image.new("RGB", (1024, 512), (128, 128, 128))
        canvas.paste(astronaut(), (left, 0))
        result = people(canvas)
        assert (result["width"], result["height"]) == (1024, 512)
        [found[left]] = result["people"]
    [alone] = people(astronaut())["people"]
    on_left, on_right = found[0], found[512]
    # 4 picture pixels per input pixel; the box edge at her cut-off arm also depends on what
    # lies beyond the photo's edge (grey or nothing), hence more slack than for keypoints.
    for key, offset in (("x", 512), ("y", 0), ("w", 0), ("h", 0)):
        assert abs(on_right["box"][key] - on_left["box"][key] - offset) < 24
    for left_point, right_point in zip(on_left["keypoints"], on_right["keypoints"], strict=True):
        if left_point["confidence"] > 0.5:
            assert abs(right_point["x"] - left_point["x"] - 512) < 12
            assert abs(right_point["y"] - left_point["y"]) < 12
    # Seen at half the resolution, her face is still where it is in the photo alone.
    for expected, point in zip(alone["keypoints"][:5], on_left["keypoints"][:5], strict=True):
        assert abs(point["x"] - expected["x"]) < 12 and abs(point["y"] - expected["y"]) < 12


def test_the_input_is_the_picture_centred_on_black() -> None:
    pixels, wide = square_input(np.asarray(Image.new("RGB", (1024, 512), (200, 100, 50))))
    assert pixels.shape == (1, 256, 256, 3) and pixels.dtype == np.int32
    assert (pixels[0, :64] == 0).all() and (pixels[0, 192:] == 0).all()
    assert (pixels[0, 64:192] == [200, 100, 50]).all()
    assert wide == Transform(0.25, 0.25, 0, 64)
    assert wide.to_picture([[128, 128], [0, 64]]).tolist() == [[512, 256], [0, 0]]
    _, tall = square_input(np.asarray(Image.new("RGB", (300, 1000))))
    assert (tall.offset_x, tall.offset_y) == (89, 0)
    np.testing.assert_allclose(tall.to_picture([89 + 77, 256]), [300, 1000])


def test_threshold_changes_the_version(models: Models, analyzer: PeopleAnalyzer) -> None:
    assert analyzer.version == "2-1"
    assert PeopleAnalyzer(models, threshold=0.5).version == "2-1-0.5"
