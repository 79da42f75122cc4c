"""Test pictures, generated in code so that no binary fixture is committed.

Helpers are fixtures that return functions: plain imports from a conftest break as soon as a
second test folder has a conftest of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sightline.vision import Picture, decode
from support.imagegen import encode as encode_image

MAX_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 100_000_000

Encode = Callable[..., bytes]
PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]


def _picture_of(image: Image.Image, format: str = "PNG", **params: Any) -> Picture:
    return decode(encode_image(image, format, **params), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)


def _photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A smooth random colour field with a few hard-edged shapes: structure like a photo's,
    different for every seed, identical for the same seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    pixels = np.array(image)
    width, height = size
    for _ in range(4):
        x, y = rng.integers(0, width * 3 // 4), rng.integers(0, height * 3 // 4)
        w, h = rng.integers(width // 8, width // 3), rng.integers(height // 8, height // 3)
        pixels[y : y + h, x : x + w] = rng.integers(0, 256, size=3)
    return Image.fromarray(pixels)


@pytest.fixture
def encode() -> Encode:
    """`encode(image, format, **save_params)` -> bytes."""
    return encode_image


@pytest.fixture
def picture_of() -> PictureOf:
    """`picture_of(image, format="PNG", **save_params)` -> the decoded `Picture`."""
    return _picture_of


@pytest.fixture
def photo() -> Photo:
    """`photo(seed, size=(320, 240))` -> a deterministic photo-like RGB image."""
    return _photo
