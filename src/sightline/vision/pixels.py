"""Pixels that features share through the picture's memo, so each is made once however many
features use it: the full-size RGB array the models start from, and a small copy for the
statistical features (image type, quality, smart crop) and the largest thumbnail."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from sightline.vision.base import Picture

SMALL_SIDE = 512
# Rec. 709 luma weights, applied to gamma-encoded values as video and JPEG do.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)

Pixels = npt.NDArray[np.uint8]
Grey = npt.NDArray[np.float32]


def rgb_array(picture: Picture) -> Pixels:
    """`picture.rgb` as a read-only (H, W, 3) uint8 array."""

    def convert() -> Pixels:
        pixels = np.asarray(picture.rgb, dtype=np.uint8)
        pixels.setflags(write=False)
        return pixels

    return picture.memo("rgb:full", convert)


def small_image(picture: Picture, side: int = SMALL_SIDE) -> Image.Image:
    """`picture.rgb` with its longest side at most `side`; do not modify it.

    Bicubic keeps edges about as crisp as Lanczos (the sharpness measure relies on that) at
    under half its cost; a smaller picture is used as it is, never enlarged.
    """
    return picture.memo(f"image:{side}", lambda: shrunk(picture.rgb, side))


def small_rgb(picture: Picture, side: int = SMALL_SIDE) -> Pixels:
    """`small_image` as a read-only (H, W, 3) uint8 array."""
    return picture.memo(f"rgb:{side}", lambda: _read_only(small_image(picture, side)))


def small_luma(picture: Picture, side: int = SMALL_SIDE) -> Grey:
    """Luma (0-255, float32) of `small_rgb`, shared the same way."""
    return picture.memo(f"luma:{side}", lambda: _luma(small_rgb(picture, side)))


def shrink(
    image: Image.Image,
    side: int,
    resample: Image.Resampling = Image.Resampling.BICUBIC,
    reducing_gap: float = 3.0,
) -> Pixels:
    """`shrunk` as a read-only (H, W, 3) uint8 array."""
    return _read_only(shrunk(image, side, resample, reducing_gap))


def shrunk(
    image: Image.Image,
    side: int,
    resample: Image.Resampling = Image.Resampling.BICUBIC,
    reducing_gap: float = 3.0,
) -> Image.Image:
    """`image` with its longest side at most `side`: `image` itself when it fits, never
    enlarged."""
    if max(image.size) <= side:
        return image
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, resample, reducing_gap=reducing_gap)


def _read_only(image: Image.Image) -> Pixels:
    pixels = np.asarray(image, dtype=np.uint8)
    pixels.setflags(write=False)
    return pixels


def _luma(pixels: Pixels) -> Grey:
    luma: Grey = pixels.astype(np.float32) @ LUMA_WEIGHTS
    luma.setflags(write=False)
    return luma
