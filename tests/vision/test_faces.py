"""The `faces` feature with the real CenterFace model, on scikit-image's sample photographs.

In `astronaut()` (512x512) Eileen Collins' face spans about x 182-270, y 58-178.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from sightline.models import Models
from sightline.vision import Picture
from sightline.vision.base import JSON
from sightline.vision.faces import (
    DEFAULT_MAX_SIDE,
    MODEL,
    FacesAnalyzer,
)
from support.analysis import result_of

PictureOf = Callable[..., Picture]
ASTRONAUT_FACE = (182, 58, 270, 178)  # x0, y0, x1, y1
LANDMARKS = {"right_eye", "left_eye", "nose", "mouth_right", "mouth_left"}


@pytest.fixture(scope="module")
def analyzer(models: Models) -> FacesAnalyzer:
    return FacesAnalyzer(models)


@pytest.fixture
def faces(analyzer: FacesAnalyzer, picture_of: PictureOf) -> Callable[[Image.Image], JSON]:
    def run(image: Image.Image) -> JSON:
        result = result_of(analyzer, picture_of(image))
        json.dumps(result, allow_nan=False)
        return result

    return run


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def centre(box: JSON) -> tuple[float, float]:
    return box["x"] + box["w"] / 2, box["y"] + box["h"] / 2


def inside(x: float, y: float, box: JSON) -> bool:
    return bool(box["x"] <= x <= box["x"] + box["w"] and box["y"] <= y <= box["y"] + box["h"])


def test_astronaut_has_one_face_with_landmarks(faces: Callable[[Image.Image], JSON]) -> None:
    result = faces(astronaut())
    assert result["model"] == {"name": MODEL, "version": "1"}
    assert (result["width"], result["height"]) == (512, 512)
    [face] = result["faces"]
    assert face["confidence"] > 0.8
    box = face["box"]
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert abs(centre(box)[0] - (x0 + x1) / 2) < 12
    assert abs(centre(box)[1] - (y0 + y1) / 2) < 12
    assert 0.8 < box["w"] / (x1 - x0) < 1.25
    assert 0.8 < box["h"] / (y1 - y0) < 1.25
    marks = face["landmarks"]
    assert set(marks) == LANDMARKS
    assert all(inside(point["x"], point["y"], box) for point in marks.values())
    # She faces the camera: her right eye and mouth corner are on the picture's left.
    assert marks["right_eye"]["x"] < marks["nose"]["x"] < marks["left_eye"]["x"]
    assert marks["mouth_right"]["x"] < marks["mouth_left"]["x"]
    eyes = max(marks["right_eye"]["y"], marks["left_eye"]["y"])
    assert eyes < marks["nose"]["y"] < min(marks["mouth_right"]["y"], marks["mouth_left"]["y"])


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_no_faces_in_pictures_without_people(
    faces: Callable[[Image.Image], JSON], name: str
) -> None:
    image = Image.fromarray(getattr(data, name)())
    result = faces(image)
    assert (result["width"], result["height"]) == image.size
    assert result["faces"] == []


def test_faces_at_three_scales(faces: Callable[[Image.Image], JSON]) -> None:
    """Her face pasted 40, 70 and 96 pixels wide onto a plain grey background."""
    head = astronaut().crop((160, 30, 290, 200))  # the face is 88 of these 130 pixels wide
    canvas = Image.new("RGB", (640, 360), (200, 200, 200))
    pasted = []
    left = 20
    for face_width in (40, 70, 96):
        scale = face_width / 88
        copy = head.resize((round(130 * scale), round(170 * scale)), Image.Resampling.LANCZOS)
        canvas.paste(copy, (left, 100))
        pasted.append({"x": left, "y": 100, "w": copy.width, "h": copy.height})
        left += copy.width + 120
    found = faces(canvas)["faces"]
    assert len(found) == 3
    for region in pasted:
        [match] = [face for face in found if inside(*centre(face["box"]), region)]
        assert 0.5 < match["box"]["w"] / (region["w"] * 88 / 130) < 1.5
    assert [face["confidence"] for face in found] == sorted(
        (face["confidence"] for face in found), reverse=True
    )


def test_coordinates_follow_exif_orientation(
    faces: Callable[[Image.Image], JSON], picture_of: PictureOf, analyzer: FacesAnalyzer
) -> None:
    """Pixels stored on their side with Orientation 6 ("turn 90 degrees clockwise to view")."""
    upright = astronaut().crop((0, 0, 512, 384))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    picture = picture_of(stored, "JPEG", exif=exif, quality=95)
    assert picture.rgb.size == (512, 384)
    result = result_of(analyzer, picture)
    assert (result["width"], result["height"]) == (512, 384)
    [face] = result["faces"]
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert abs(centre(face["box"])[0] - (x0 + x1) / 2) < 12
    assert abs(centre(face["box"])[1] - (y0 + y1) / 2) < 12


def test_large_picture_is_mapped_back(faces: Callable[[Image.Image], JSON]) -> None:
    """Found on a 640-pixel copy, reported in the picture's own pixels."""
    result = faces(astronaut().resize((1536, 1536), Image.Resampling.BICUBIC))
    [face] = result["faces"]
    x0, y0, x1, y1 = (3 * value for value in ASTRONAUT_FACE)
    assert abs(centre(face["box"])[0] - (x0 + x1) / 2) < 36
    assert abs(centre(face["box"])[1] - (y0 + y1) / 2) < 36
    assert 0.8 < face["box"]["w"] / (x1 - x0) < 1.25


def test_tiny_picture(faces: Callable[[Image.Image], JSON]) -> None:
    assert faces(Image.new("RGB", (20, 7), "white"))["faces"] == []


def test_settings_change_the_version(models: Models, analyzer: FacesAnalyzer) -> None:
    assert analyzer.version == "1-1-int8"
    assert FacesAnalyzer(models, threshold=0.3).version == f"1-1-int8-{DEFAULT_MAX_SIDE}-0.3"
    assert FacesAnalyzer(models, max_side=1024).version == "1-1-int8-1024-0.5"


def test_the_original_model_has_the_version_without_int8(tmp_path: Path) -> None:
    fp32 = Models(tmp_path, threads=1, idle_seconds=0, precision="fp32")
    assert FacesAnalyzer(fp32).version == "1-1"
