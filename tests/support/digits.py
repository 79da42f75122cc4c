"""Small greyscale pictures unlike photos: scikit-learn's 8x8 handwritten digits, dark on
white, upscaled to 64 px, as a user would send scans of glyphs."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

SIDE = 64


@dataclass(frozen=True)
class Digits:
    pictures: list[Image.Image]
    labels: list[str]  # "0" … "9"
    pixels: npt.NDArray[np.float64]  # the raw 8x8 digits, (N, 64), for a baseline on pixels


def digits(
    per_label: int, *, classes: Sequence[int] = range(10), seed: int = 0
) -> tuple[Digits, Digits]:
    """`per_label` pictures of each digit to train on and as many others held out."""
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(seed)
    train: list[int] = []
    held: list[int] = []
    for digit in classes:
        chosen = rng.permutation(np.flatnonzero(data.target == digit))
        train += list(chosen[:per_label])
        held += list(chosen[per_label : 2 * per_label])

    def of(indices: list[int]) -> Digits:
        return Digits(
            [_picture(data.images[i]) for i in indices],
            [str(data.target[i]) for i in indices],
            data.data[indices],
        )

    return of(train), of(held)


def png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def _picture(grid: npt.NDArray[np.float64]) -> Image.Image:
    grey = (255 - grid * (255 / 16)).astype(np.uint8)
    return Image.fromarray(grey).resize((SIDE, SIDE), Image.Resampling.BICUBIC).convert("RGB")
