"""YOLO-style detectors, in numpy: a picture into the model's input tensor, and the raw output
back into boxes in the picture's own pixels.

Geometry: resizing maps pixel edges onto pixel edges, so a point `x` of the picture lands at
`u = x * scale_x + offset_x` in the model's input (offset = the letterbox padding, or minus the
part cut off by a centre crop) and comes back exactly by `x = (u - offset_x) / scale_x`.

Output layouts (C classes, N candidate boxes, box = centre x, centre y, width, height in input
pixels):
- yolov8 (also v9-v11): `[1, 4 + C, N]`, class scores with no objectness;
- yolov5 (also v7): `[1, N, 5 + C]`, score = objectness x class score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from sightline.models.manifest import InputSpec
from sightline.vision.boxes import nms

Pixels = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float64]
Format = Literal["yolov8", "yolov5"]
LETTERBOX_GREY = 114  # Ultralytics' padding value, which its models were trained with
MAX_DETECTIONS = 100


@dataclass(frozen=True)
class Transform:
    """Picture pixels to model-input pixels: `u = x * scale_x + offset_x`, likewise for y."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def to_picture(self, coordinates: npt.ArrayLike) -> Floats:
        """Input pixels into picture pixels, for any array of `(x, y)` pairs along its last axis:
        points `[N, 2]`, corner boxes `[N, 4]` (x0, y0, x1, y1)."""
        mapped = np.array(coordinates, dtype=np.float64)
        mapped[..., 0::2] = (mapped[..., 0::2] - self.offset_x) / self.scale_x
        mapped[..., 1::2] = (mapped[..., 1::2] - self.offset_y) / self.scale_y
        return mapped


@dataclass(frozen=True)
class Detections:
    """Corner boxes `[N, 4]`, scores `[N]` and class indices `[N]`, best first."""

    boxes: Floats
    scores: Floats
    classes: npt.NDArray[np.int64]


def fit(
    pixels: Pixels,
    spec: InputSpec,
    *,
    fill: int = LETTERBOX_GREY,
    centred: bool = True,
    interpolation: int | None = None,
) -> tuple[Pixels, Transform]:
    """Resize `(H, W, 3)` pixels to the input size as `spec.resize` says.

    letterbox: keep the aspect ratio and pad with `fill` (centred, or right and bottom only);
    stretch: ignore the aspect ratio; center_crop: cover the input and cut the overflow evenly.
    `interpolation` defaults to area averaging when shrinking and bilinear when enlarging, as
    Ultralytics loads images."""
    height, width = pixels.shape[:2]
    if spec.resize == "stretch":
        resized = _resize(pixels, spec.width, spec.height, interpolation)
        return resized, Transform(spec.width / width, spec.height / height, 0.0, 0.0)
    ratio = (min if spec.resize == "letterbox" else max)(spec.width / width, spec.height / height)
    new_width, new_height = max(1, round(width * ratio)), max(1, round(height * ratio))
    if spec.resize == "center_crop":
        new_width, new_height = max(new_width, spec.width), max(new_height, spec.height)
    resized = _resize(pixels, new_width, new_height, interpolation)
    scale_x, scale_y = new_width / width, new_height / height
    if spec.resize == "center_crop":
        left, top = (new_width - spec.width) // 2, (new_height - spec.height) // 2
        cropped = resized[top : top + spec.height, left : left + spec.width]
        return np.ascontiguousarray(cropped), Transform(scale_x, scale_y, -left, -top)
    left = (spec.width - new_width) // 2 if centred else 0
    top = (spec.height - new_height) // 2 if centred else 0
    canvas = np.full((spec.height, spec.width, 3), fill, dtype=np.uint8)
    canvas[top : top + new_height, left : left + new_width] = resized
    return canvas, Transform(scale_x, scale_y, left, top)


def to_tensor(pixels: Pixels, spec: InputSpec) -> npt.NDArray[Any]:
    """RGB `(H, W, 3)` pixels as a batch of one in the model's layout, colour order and type."""
    if spec.color == "BGR":
        pixels = pixels[:, :, ::-1]
    if spec.dtype == "uint8":
        tensor: npt.NDArray[Any] = np.ascontiguousarray(pixels, dtype=np.uint8)
    else:
        mean = np.asarray(spec.mean, dtype=np.float32)
        std = np.asarray(spec.std, dtype=np.float32)
        tensor = (pixels.astype(np.float32) * np.float32(spec.scale) - mean) / std
    if spec.layout == "NCHW":
        tensor = tensor.transpose(2, 0, 1)
    return np.ascontiguousarray(tensor[np.newaxis])


def decode(
    output: npt.NDArray[np.float32],
    format: Format,
    *,
    confidence: float,
    iou: float,
    transform: Transform,
    class_aware: bool = True,
    max_detections: int = MAX_DETECTIONS,
) -> Detections:
    """Boxes in picture pixels from a raw output of one image: scored at least `confidence`,
    overlaps above `iou` suppressed (within a class, or across classes if not `class_aware`)."""
    boxes, scores, classes = (_yolov8 if format == "yolov8" else _yolov5)(output)
    keep = scores >= confidence
    boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    chosen = nms(boxes, scores, iou, classes if class_aware else None)[:max_detections]
    return Detections(transform.to_picture(boxes[chosen]), scores[chosen], classes[chosen])


def _yolov8(output: npt.NDArray[np.float32]) -> tuple[Floats, Floats, npt.NDArray[np.int64]]:
    rows = np.asarray(output, dtype=np.float64)[0].T
    class_scores = rows[:, 4:]
    classes = class_scores.argmax(axis=1)
    return _corners(rows[:, :4]), class_scores.max(axis=1), classes.astype(np.int64)


def _yolov5(output: npt.NDArray[np.float32]) -> tuple[Floats, Floats, npt.NDArray[np.int64]]:
    rows = np.asarray(output, dtype=np.float64)[0]
    class_scores = rows[:, 5:] * rows[:, 4:5]
    classes = class_scores.argmax(axis=1)
    return _corners(rows[:, :4]), class_scores.max(axis=1), classes.astype(np.int64)


def _corners(centre_boxes: Floats) -> Floats:
    cx, cy, w, h = centre_boxes.T
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _resize(pixels: Pixels, width: int, height: int, interpolation: int | None) -> Pixels:
    if (width, height) == (pixels.shape[1], pixels.shape[0]):
        return pixels
    if interpolation is None:
        shrinking = width <= pixels.shape[1] and height <= pixels.shape[0]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return np.asarray(
        cv2.resize(pixels, (width, height), interpolation=interpolation), dtype=np.uint8
    )
