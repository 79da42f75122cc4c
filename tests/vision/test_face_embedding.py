"""The `face_embedding` feature with the real faceres model (prepared by `sightline models
prepare`), on faces the tests obtain offline: scikit-image's astronaut (Eileen Collins), its
cameraman, and the 100 faces of its LFW subset (25x25 greyscale crops, enlarged).

The astronaut's face must stay itself through the copies a claim or a catalogue would hold
(flipped, JPEG at quality 20, brighter, darker, rotated, blurred, half the resolution): nearer
than the default match distance to the original; and every other face must be farther."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter
from skimage import data

from sightline.models import Models
from sightline.settings import DEFAULT_FACE_MATCH_DISTANCE as DEFAULT_MATCH_DISTANCE
from sightline.vision import Picture, decode
from sightline.vision.face_embedding import (
    DIMENSIONS,
    MODEL,
    FaceEmbeddingAnalyzer,
)
from sightline.vision.faces import FacesAnalyzer
from sightline.vision.geometry import Box
from support.analysis import result_of

PictureOf = Callable[..., Picture]
Floats = np.ndarray


@pytest.fixture(scope="module")
def faces(models: Models) -> FacesAnalyzer:
    return FacesAnalyzer(models)


@pytest.fixture(scope="module")
def analyzer(models: Models) -> FaceEmbeddingAnalyzer:
    return FaceEmbeddingAnalyzer(models)


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def copies() -> dict[str, tuple[Image.Image, dict[str, object]]]:
    """Altered copies of the astronaut, with how each is encoded."""
    photo = astronaut()
    png: dict[str, object] = {"format": "PNG"}
    return {
        "flipped": (photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), png),
        "jpeg q20": (photo, {"format": "JPEG", "quality": 20}),
        "brighter": (ImageEnhance.Brightness(photo).enhance(1.4), png),
        "darker": (ImageEnhance.Brightness(photo).enhance(0.6), png),
        "rotated 12 degrees": (photo.rotate(12, resample=Image.Resampling.BILINEAR), png),
        "blurred": (photo.filter(ImageFilter.GaussianBlur(2)), png),
        "half resolution": (photo.resize((256, 256), Image.Resampling.LANCZOS), png),
    }


def encoded(image: Image.Image, format: str = "PNG", **params: object) -> Picture:
    buffer = io.BytesIO()
    image.save(buffer, format, **params)
    return decode(buffer.getvalue(), max_bytes=10**8, max_pixels=10**8)


def descriptors(
    analyzer: FaceEmbeddingAnalyzer, faces: FacesAnalyzer, picture: Picture
) -> list[Floats]:
    result = result_of(analyzer, picture, faces)
    return [np.array(face["vector"], np.float32) for face in result["faces"]]


def distance(a: Floats, b: Floats) -> float:
    return 1.0 - float(a @ b)


@pytest.fixture(scope="module")
def other_faces(analyzer: FaceEmbeddingAnalyzer, faces: FacesAnalyzer) -> list[Floats]:
    """The cameraman's face and the LFW subset's 100 faces (each crop is all face)."""
    cameraman = descriptors(analyzer, faces, encoded(Image.fromarray(data.camera())))
    assert len(cameraman) == 1
    crops = data.lfw_subset()[:100]  # the first 100 are faces, the rest are not
    pictures = [
        encoded(Image.fromarray((crop * 255).astype(np.uint8)).resize((200, 200))) for crop in crops
    ]
    whole = [Box(x=10, y=10, w=180, h=180)]
    return cameraman + [analyzer.descriptors(picture, whole)[0] for picture in pictures]


def test_a_face_gets_a_unit_length_descriptor_with_its_box(
    analyzer: FaceEmbeddingAnalyzer, faces: FacesAnalyzer
) -> None:
    picture = encoded(astronaut())
    result = result_of(analyzer, picture, faces)
    found = result_of(faces, picture)
    assert result["model"] == {"name": MODEL, "version": "1"}
    assert result["dimensions"] == DIMENSIONS
    assert [face["box"] for face in result["faces"]] == [face["box"] for face in found["faces"]]
    (face,) = result["faces"]
    assert face["confidence"] == found["faces"][0]["confidence"]
    assert len(face["vector"]) == DIMENSIONS
    assert abs(np.linalg.norm(face["vector"]) - 1) < 1e-4


def test_a_picture_without_faces_gets_none(
    analyzer: FaceEmbeddingAnalyzer, faces: FacesAnalyzer
) -> None:
    result = result_of(analyzer, encoded(Image.fromarray(data.coffee())), faces)
    assert result["faces"] == [] and result["dimensions"] == DIMENSIONS


def test_the_same_face_matches_itself_through_altered_copies(
    analyzer: FaceEmbeddingAnalyzer, faces: FacesAnalyzer, other_faces: list[Floats]
) -> None:
    (original,) = descriptors(analyzer, faces, encoded(astronaut()))
    nearest_other = min(distance(original, other) for other in other_faces)
    assert nearest_other > DEFAULT_MATCH_DISTANCE
    for name, (image, encoding) in copies().items():
        (copy,) = descriptors(analyzer, faces, encoded(image, **encoding))  # type: ignore[arg-type]
        assert distance(original, copy) < DEFAULT_MATCH_DISTANCE, name
        # A copy is nearer to the original than to any other face.
        assert min(distance(copy, other) for other in other_faces) > DEFAULT_MATCH_DISTANCE, name


def test_no_two_different_faces_match(other_faces: list[Floats]) -> None:
    """The LFW subset's crops may show one person twice; its faces are low-resolution strangers
    to each other, so most pairs must be far apart, and the cameraman from all of them."""
    cameraman, *lfw = other_faces
    assert min(distance(cameraman, face) for face in lfw) > DEFAULT_MATCH_DISTANCE
    pairs = [distance(a, b) for i, a in enumerate(lfw) for b in lfw[i + 1 :]]
    assert np.mean(np.array(pairs) < DEFAULT_MATCH_DISTANCE) < 0.01


def test_max_faces_bounds_the_descriptors(
    models: Models, faces: FacesAnalyzer, analyzer: FaceEmbeddingAnalyzer
) -> None:
    group = Image.new("RGB", (1024, 512))
    group.paste(astronaut(), (0, 0))
    group.paste(astronaut().transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    picture = encoded(group)
    assert len(result_of(analyzer, picture, faces)["faces"]) == 2
    one = FaceEmbeddingAnalyzer(models, max_faces=1)
    assert one.version != analyzer.version
    assert len(result_of(one, picture, faces)["faces"]) == 1
