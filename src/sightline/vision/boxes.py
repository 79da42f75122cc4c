"""Greedy non-maximum suppression over corner boxes `(x0, y0, x1, y1)`, shared by every detector.

A box is dropped when its intersection over union with a better-scoring kept box is *above*
the threshold (as in torchvision and Ultralytics); a box overlapping by exactly the threshold
is kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]


def nms(
    boxes: npt.NDArray[np.floating[Any]],
    scores: npt.NDArray[np.floating[Any]],
    iou: float,
    classes: npt.NDArray[np.integer[Any]] | None = None,
) -> Indices:
    """Indices of the boxes kept, best first. With `classes`, boxes of different classes never
    suppress each other; without, every box competes with every other."""
    corners = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if classes is not None and len(corners):
        # Shifting each class to its own far-away region keeps the classes from overlapping.
        span = float(np.abs(corners).max()) * 2 + 1
        corners = corners + (classes * span)[:, np.newaxis]
    areas = np.clip(corners[:, 2] - corners[:, 0], 0, None) * np.clip(
        corners[:, 3] - corners[:, 1], 0, None
    )
    order = np.argsort(-np.asarray(scores), kind="stable")
    kept: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        kept.append(best)
        overlap = _intersection(corners[best], corners[rest])
        union = areas[best] + areas[rest] - overlap
        ratio = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
        order = rest[ratio <= iou]
    return np.asarray(kept, dtype=np.int64)


def _intersection(box: Floats, others: Floats) -> Floats:
    width = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    height = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    overlap: Floats = np.clip(width, 0, None) * np.clip(height, 0, None)
    return overlap
