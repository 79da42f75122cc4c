from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from sightline.vision import Picture
from sightline.vision.pixels import small_luma, small_rgb

PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1024, 768), (384, 512)), ((300, 2000), (512, 77)), ((640, 640), (512, 512))],
)
def test_longest_side_is_512(
    picture_of: PictureOf, photo: Photo, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    pixels = small_rgb(picture_of(photo(3, size)))
    assert pixels.shape == (*expected, 3)
    assert pixels.dtype == np.uint8


def test_small_pictures_are_not_enlarged(picture_of: PictureOf, photo: Photo) -> None:
    image = photo(4, (200, 120))
    assert np.array_equal(small_rgb(picture_of(image)), np.asarray(image))


def test_computed_once_per_picture_and_read_only(picture_of: PictureOf, photo: Photo) -> None:
    picture = picture_of(photo(5, (800, 600)))
    first = small_rgb(picture)
    assert small_rgb(picture) is first
    assert small_luma(picture) is small_luma(picture)
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[0, 0, 0] = 1


def test_other_sides(picture_of: PictureOf, photo: Photo) -> None:
    picture = picture_of(photo(6, (800, 600)))
    assert small_rgb(picture, 64).shape == (48, 64, 3)
    assert small_rgb(picture).shape == (384, 512, 3)


def test_luma_of_grey_is_the_grey_level(picture_of: PictureOf) -> None:
    luma = small_luma(picture_of(Image.new("RGB", (10, 10), (100, 100, 100))))
    assert luma.dtype == np.float32
    assert np.allclose(luma, 100.0, atol=0.01)
