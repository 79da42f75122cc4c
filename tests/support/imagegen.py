"""Test images made in code: no binary fixtures in the repository."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def solid(
    color: tuple[int, int, int] | str = "red", size: tuple[int, int] = (64, 48), fmt: str = "JPEG"
) -> bytes:
    return encode(Image.new("RGB", size, color), fmt)


def noise(seed: int, size: tuple[int, int] = (96, 64), fmt: str = "PNG") -> bytes:
    """A distinct picture per seed: smooth random blobs, so perceptual hashes differ a lot."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC)
    return encode(image, fmt)


def gif_animation(frames: int = 3, size: tuple[int, int] = (32, 32)) -> bytes:
    images = [Image.new("RGB", size, (40 * i, 100, 200)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny file that declares a huge canvas: a 1-bit PNG of zeros compresses ~1000:1."""
    return encode(Image.new("1", (width, height)), "PNG")
