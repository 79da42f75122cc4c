from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from sightline.vision import Artifact, Picture
from sightline.vision.base import ArtifactRef
from sightline.vision.thumbnail import THUMBNAIL_SIZES, ThumbnailAnalyzer, ThumbnailResult

PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]


def thumbnails(picture: Picture) -> dict[int, Artifact]:
    """The thumbnails by size, checking that the result describes each artifact."""
    analysis = ThumbnailAnalyzer().analyze(picture, {})
    assert isinstance(analysis.result, ThumbnailResult)
    result = analysis.result.model_dump(mode="json")
    assert result["content_type"] == "image/webp"
    sizes = result["sizes"]
    assert list(sizes) == ["128", "256", "512"]
    assert list(analysis.artifacts) == ["sizes.128", "sizes.256", "sizes.512"]
    for side, described in sizes.items():
        artifact = analysis.artifacts[f"sizes.{side}"]
        assert described == ArtifactRef.of(artifact).model_dump()
        assert described["size"] == len(artifact.data)
        assert analysis.result.blob(int(side)) == described["sha256"] == artifact.sha256
    return {int(side): analysis.artifacts[f"sizes.{side}"] for side in sizes}


def opened(artifact: Artifact) -> Image.Image:
    image = Image.open(io.BytesIO(artifact.data))
    assert image.format == "WEBP"
    assert artifact.content_type == "image/webp"
    assert image.size == (artifact.width, artifact.height)
    image.load()
    return image


def test_sizes() -> None:
    assert THUMBNAIL_SIZES == (128, 256, 512)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((2000, 1000), {128: (128, 64), 256: (256, 128), 512: (512, 256)}),
        ((300, 1000), {128: (38, 128), 256: (77, 256), 512: (154, 512)}),
        ((400, 400), {128: (128, 128), 256: (256, 256), 512: (400, 400)}),
        ((100, 50), {128: (100, 50), 256: (100, 50), 512: (100, 50)}),
        ((1, 1), {128: (1, 1), 256: (1, 1), 512: (1, 1)}),
        ((3000, 2), {128: (128, 1), 256: (256, 1), 512: (512, 1)}),
    ],
)
def test_fits_never_upscales_and_keeps_aspect(
    picture_of: PictureOf,
    photo: Photo,
    size: tuple[int, int],
    expected: dict[int, tuple[int, int]],
) -> None:
    source = photo(1, size) if min(size) > 8 else Image.new("RGB", size, "teal")
    for side, artifact in thumbnails(picture_of(source)).items():
        assert (artifact.width, artifact.height) == expected[side]
        assert opened(artifact).mode == "RGB"


def test_content_survives(picture_of: PictureOf, photo: Photo) -> None:
    source = photo(2, (1024, 768))
    small = thumbnails(picture_of(source))[256]
    reference = source.resize((small.width, small.height), Image.Resampling.LANCZOS)
    difference = np.abs(
        np.asarray(opened(small), dtype=np.int16) - np.asarray(reference, dtype=np.int16)
    )
    assert difference.mean() < 6


def test_orientation_is_applied(picture_of: PictureOf) -> None:
    stored = Image.new("RGB", (400, 200), "white")
    stored.paste((255, 0, 0), (0, 0, 200, 200))  # red on the stored left half
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed turned a quarter clockwise: the red half ends up on top
    artifact = thumbnails(picture_of(stored, "JPEG", exif=exif, quality=95))[128]
    assert (artifact.width, artifact.height) == (64, 128)
    image = opened(artifact)
    top, bottom = image.getpixel((32, 20)), image.getpixel((32, 108))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    red, green, _ = top
    assert red > 200 and green < 60
    assert bottom[1] > 200


def test_deterministic(picture_of: PictureOf, photo: Photo) -> None:
    first = thumbnails(picture_of(photo(3, (900, 700)), "JPEG"))
    second = thumbnails(picture_of(photo(3, (900, 700)), "JPEG"))
    assert first == second


def test_alpha_is_kept(picture_of: PictureOf) -> None:
    source = Image.new("RGBA", (600, 300), (0, 0, 255, 255))
    source.paste((0, 0, 0, 0), (0, 0, 300, 300))  # the left half is transparent
    for artifact in thumbnails(picture_of(source)).values():
        image = opened(artifact)
        assert image.mode == "RGBA"
        alpha = image.getchannel("A")
        assert alpha.getpixel((2, artifact.height // 2)) == 0
        assert alpha.getpixel((artifact.width - 3, artifact.height // 2)) == 255


def test_metadata_is_not_copied(picture_of: PictureOf, photo: Photo) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    for artifact in thumbnails(picture_of(photo(4), "JPEG", exif=exif)).values():
        assert b"Canon" not in artifact.data
        assert not opened(artifact).getexif()
