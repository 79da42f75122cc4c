"""Generated catalogue photos of three garment shapes (dress, shirt, trousers): random colour,
size, position, background tint and noise, so that only the silhouette tells them apart."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

KINDS = ("dress", "shirt", "trousers")
SIZE = 224


def _outline(kind: str, cx: float, top: float, scale: float) -> list[tuple[float, float]]:
    s = scale
    if kind == "dress":  # narrow bodice flaring into a wide skirt
        return [
            (cx - 18 * s, top),
            (cx + 18 * s, top),
            (cx + 22 * s, top + 50 * s),
            (cx + 60 * s, top + 150 * s),
            (cx - 60 * s, top + 150 * s),
            (cx - 22 * s, top + 50 * s),
        ]
    if kind == "shirt":  # a T: body plus sleeves straight out
        return [
            (cx - 30 * s, top),
            (cx + 30 * s, top),
            (cx + 75 * s, top + 20 * s),
            (cx + 70 * s, top + 50 * s),
            (cx + 38 * s, top + 40 * s),
            (cx + 38 * s, top + 120 * s),
            (cx - 38 * s, top + 120 * s),
            (cx - 38 * s, top + 40 * s),
            (cx - 70 * s, top + 50 * s),
            (cx - 75 * s, top + 20 * s),
        ]
    if kind == "trousers":  # waistband and two legs with a gap between them
        return [
            (cx - 40 * s, top),
            (cx + 40 * s, top),
            (cx + 46 * s, top + 160 * s),
            (cx + 8 * s, top + 160 * s),
            (cx, top + 45 * s),
            (cx - 8 * s, top + 160 * s),
            (cx - 46 * s, top + 160 * s),
        ]
    raise ValueError(kind)


def garment(kind: str, seed: int) -> bytes:
    """A JPEG photo of one garment of `kind`; the same seed gives the same bytes."""
    rng = random.Random(f"{kind}:{seed}")
    tint = tuple(rng.randint(205, 250) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), tint)
    draw = ImageDraw.Draw(image)
    colour = tuple(rng.randint(20, 200) for _ in range(3))
    scale = rng.uniform(0.8, 1.1)
    cx = SIZE / 2 + rng.uniform(-15, 15)
    top = rng.uniform(15, 35)
    draw.polygon(_outline(kind, cx, top, scale), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    pixels = np.asarray(image, np.float32)
    noise = np.random.default_rng(rng.randint(0, 2**32 - 1)).normal(0, 6, pixels.shape)
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()
