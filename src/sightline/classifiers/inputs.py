"""What a classifier head reads: the picture's embedding, earlier features of the same model
run, or features computed from its pixels.

The ImageNet embedding describes photos well and small greyscale pictures unlike photos (digits,
glyphs, icons) poorly: on scikit-learn's digits upscaled to 64 px (10 labels, 20 examples each,
20 more each held out) a head on the embedding reached 0.835 cross-validated and 0.885 held-out
accuracy, a tuned SVC on the digits' raw 8x8 pixels 0.94 held-out, a head on these 16x16 pixels
0.95, on their HOG 0.96, on the embedding and HOG together 0.975. On photos the pixels are far
behind (0.60-0.78 against 1.0 on crops of six scikit-image photos), so training tries each input
and keeps the one cross-validation prefers (`training.py`).

Pixel inputs start from a *glimpse*: the whole picture squeezed to 32x32 grey levels in [0, 1],
small enough to keep for every example while training, computed from the decoded picture.

- `pixels`: the glimpse averaged down to 16x16 (256 values).
- `hog`: histograms of oriented gradients (Dalal and Triggs) of the glimpse: 9 unsigned
  orientation bins per 8x8 cell, 2x2-cell blocks L2-normalised and clipped at 0.2, the whole
  vector scaled to unit length (324 values).
- `embedding+hog`: the unit-length embedding followed by the HOG vector.

- `embedding+early`: the unit-length embedding followed by the early features of the same
  model run (`vision.tags.Prediction.early`: the averages of blocks 4 and 10's outputs, each
  unit length, 152 values): the embedding has pooled away strokes and small marks those blocks
  still see. A linear head on the embedding alone reached 0.835 cross-validated / 0.88 held out
  on the digits above, on both 0.87 / 0.92; on five kinds of small marks on busy photo-like
  backgrounds (20 each, as many held out) 0.54 / 0.59 and 0.70 / 0.78.

Inputs read from the glimpse alone can also be learned from *augmented* examples (`Augmentation`):
copies of each training glimpse moved a little, or mirrored, labelled as the original. Training
adds them only to the examples a model is fit on, never to the fold it is scored on.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt
from PIL import Image

from sightline.vision.vectors import unit_length

Floats = npt.NDArray[np.float32]
Glimpse = Floats  # (32, 32) grey levels in [0, 1]

GLIMPSE_SIDE = 32
PIXELS_SIDE = 16
HOG_CELL = 8
HOG_BINS = 9
HOG_CLIP = 0.2  # Dalal and Triggs' L2-Hys: one strong edge does not drown the block


class InputKind(StrEnum):
    EMBEDDING = "embedding"
    PIXELS = "pixels"
    HOG = "hog"
    EMBEDDING_HOG = "embedding+hog"
    EMBEDDING_EARLY = "embedding+early"

    @property
    def reads_pixels(self) -> bool:
        """Needs the picture's glimpse."""
        return self in (InputKind.PIXELS, InputKind.HOG, InputKind.EMBEDDING_HOG)

    @property
    def reads_embedding(self) -> bool:
        return self in (InputKind.EMBEDDING, InputKind.EMBEDDING_HOG, InputKind.EMBEDDING_EARLY)

    @property
    def reads_early(self) -> bool:
        """Needs the picture's early features (`vision.tags.Prediction.early`)."""
        return self is InputKind.EMBEDDING_EARLY


class Augmentation(StrEnum):
    # The same thing drawn a little off: moved 2 px (of 32) each way, turned 10 degrees either
    # way. Took hog/linear on digits from 0.96 to 0.975 held out, for 7 times the rows.
    SHIFT = "shift"
    # Mirrored left to right: right for most photos, wrong for glyphs (a mirrored 2 is no 2),
    # so it is a candidate of its own and cross-validation says whether the labels allow it.
    FLIP = "flip"


SHIFT_PIXELS = 2.0
TURN_DEGREES = 10.0


def augmented(glimpses: Floats, augmentation: Augmentation) -> Floats:
    """(N * copies, 32, 32): the (N, 32, 32) glimpses, then each kind of copy of all of them
    (so the labels of the result are the originals' repeated `len(result) // N` times)."""
    grey = np.asarray(glimpses, np.float32)
    if Augmentation(augmentation) is Augmentation.FLIP:
        return np.concatenate([grey, grey[:, :, ::-1]])
    moves = [(0.0, SHIFT_PIXELS, 0.0), (0.0, -SHIFT_PIXELS, 0.0)]
    moves += [(0.0, 0.0, SHIFT_PIXELS), (0.0, 0.0, -SHIFT_PIXELS)]
    moves += [(TURN_DEGREES, 0.0, 0.0), (-TURN_DEGREES, 0.0, 0.0)]
    return np.concatenate([grey, *(_moved(grey, *move) for move in moves)])


def _moved(grey: Floats, degrees: float, dx: float, dy: float) -> Floats:
    """The glimpses turned by `degrees` about their centre and moved by (dx, dy) pixels,
    bilinear, the border's grey level carried into what comes in from outside."""
    side = grey.shape[1]
    centre = (side - 1) / 2
    y, x = np.mgrid[0:side, 0:side].astype(np.float64) - centre
    turn = np.deg2rad(degrees)
    cos, sin = np.cos(turn), np.sin(turn)
    # Where each output pixel comes from: the inverse of the move.
    source_x = np.clip(cos * (x - dx) + sin * (y - dy) + centre, 0, side - 1)
    source_y = np.clip(-sin * (x - dx) + cos * (y - dy) + centre, 0, side - 1)
    left = np.minimum(np.floor(source_x).astype(np.intp), side - 2)
    top = np.minimum(np.floor(source_y).astype(np.intp), side - 2)
    fx, fy = source_x - left, source_y - top
    result: Floats = (
        grey[:, top, left] * ((1 - fx) * (1 - fy))
        + grey[:, top, left + 1] * (fx * (1 - fy))
        + grey[:, top + 1, left] * ((1 - fx) * fy)
        + grey[:, top + 1, left + 1] * (fx * fy)
    ).astype(np.float32)
    return result


def glimpse(image: Image.Image) -> Glimpse:
    """The picture as (32, 32) grey levels in [0, 1]: all of it, whatever its aspect ratio."""
    small = image.resize((GLIMPSE_SIDE, GLIMPSE_SIDE), Image.Resampling.BOX).convert("L")
    return np.asarray(small, np.float32) / 255.0


def head_input(
    kind: InputKind,
    embeddings: npt.ArrayLike | None,
    glimpses: npt.ArrayLike | None,
    early: npt.ArrayLike | None = None,
) -> Floats:
    """(N, features) rows of input `kind` from (N, D) embeddings, (N, 32, 32) glimpses and/or
    (N, C) early features (only what the kind reads is needed)."""
    kind = InputKind(kind)
    if kind is InputKind.EMBEDDING:
        return _embeddings(embeddings)
    if kind is InputKind.EMBEDDING_EARLY:
        if early is None:
            raise ValueError("The embedding+early input reads the model's early features.")
        return np.hstack([_embeddings(embeddings), _early(early)])
    if glimpses is None:
        raise ValueError(f"The {kind.value} input is computed from the picture's glimpse.")
    grey = np.asarray(glimpses, np.float32)
    if grey.ndim != 3 or grey.shape[1:] != (GLIMPSE_SIDE, GLIMPSE_SIDE):
        raise ValueError(
            f"Expected (N, {GLIMPSE_SIDE}, {GLIMPSE_SIDE}) glimpses, not {grey.shape}."
        )
    if kind is InputKind.PIXELS:
        return _pool(grey, GLIMPSE_SIDE // PIXELS_SIDE).reshape(len(grey), -1)
    gradients = hog(grey)
    if kind is InputKind.HOG:
        return gradients
    return np.hstack([_embeddings(embeddings), gradients])


def hog(glimpses: Floats) -> Floats:
    """(N, 324) unit-length HOG vectors of (N, 32, 32) glimpses."""
    count, side = len(glimpses), glimpses.shape[1]
    dy, dx = np.gradient(glimpses, axis=(1, 2))
    magnitude = np.hypot(dx, dy)
    angle = np.mod(np.arctan2(dy, dx), np.pi)  # unsigned: dark-on-light and light-on-dark alike
    bins = np.minimum((angle * (HOG_BINS / np.pi)).astype(np.intp), HOG_BINS - 1)
    cells = side // HOG_CELL
    histograms = np.zeros((count, cells, cells, HOG_BINS), np.float32)
    for b in range(HOG_BINS):
        histograms[..., b] = _pool(np.where(bins == b, magnitude, 0.0), HOG_CELL) * HOG_CELL**2
    blocks = np.concatenate(
        [
            histograms[:, :-1, :-1],
            histograms[:, 1:, :-1],
            histograms[:, :-1, 1:],
            histograms[:, 1:, 1:],
        ],
        axis=-1,
    ).reshape(count, -1, 4 * HOG_BINS)
    blocks = np.minimum(unit_length(blocks.reshape(-1, 4 * HOG_BINS)), HOG_CLIP)
    return unit_length(blocks.reshape(count, -1)).astype(np.float32)


def _pool(grid: npt.NDArray[np.floating], size: int) -> Floats:
    """Mean over size x size tiles of (N, S, S) grids."""
    count, side = len(grid), grid.shape[1] // size
    tiles = grid.reshape(count, side, size, side, size)
    result: Floats = tiles.mean(axis=(2, 4), dtype=np.float32)
    return result


def _early(early: npt.ArrayLike) -> Floats:
    rows = np.asarray(early, np.float32)
    if rows.ndim != 2:
        raise ValueError(f"Expected (N, C) early features, got {rows.shape}.")
    return rows


def _embeddings(embeddings: npt.ArrayLike | None) -> Floats:
    if embeddings is None:
        raise ValueError("This input reads the picture's embedding.")
    rows = np.asarray(embeddings, np.float32)
    if rows.ndim != 2:
        raise ValueError(f"Expected (N, D) embeddings, got {rows.shape}.")
    return unit_length(rows).astype(np.float32)
