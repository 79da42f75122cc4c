"""The `adult` feature: nudity and racy content, from NudeNet's body-part detector (the 320n ONNX
model inside the `nudenet` 3.4.2 wheel, an optional extra because its bundled licence files are
AGPL-3.0).

    {"model": {"name": "nudenet-320n", "version": "1"}, "width": 512, "height": 512,
     "is_adult": false, "adult_score": 0.0, "is_racy": false, "racy_score": 0.0,
     "detections": [{"label": "FACE_FEMALE", "category": "none", "confidence": 0.8105,
                     "box": {"x": 173, "y": 83, "w": 101, "h": 97}}]}

Each detected body part has a category (the mapping is `CATEGORIES` below):
- `adult`: exposed genitalia, female breasts, anus or buttocks;
- `racy`: those parts covered (underwear, swimwear, tight clothes) and an exposed male chest;
- `none`: faces, feet, armpits and bellies, covered or not: everyday clothing shows them.
`adult_score` / `racy_score` are the highest confidence among the category's detections (0 when
there are none); the flags are those scores at or above 0.5 (`ADULT_THRESHOLD`, `RACY_THRESHOLD`).
The categories are independent: an explicit picture is usually racy too, but not necessarily.
Boxes are pixels of the oriented picture, best first.

Preprocessing and decoding follow nudenet 3.4.2's `NudeDetector.detect`: the picture padded with
black at the right or bottom to a square and resized bilinearly to 320 x 320, scaled to 0-1
(NCHW); a YOLOv8 output `[1, 22, 2100]` (4 box values + 18 class scores); candidates scoring at
least 0.25; non-maximum suppression across classes at IoU 0.45. One deliberate difference: the
model gets RGB. nudenet 3.4.2 swaps the channels twice (`cvtColor(COLOR_RGBA2BGR)` then
`swapRB=True`), so a file it reads with `cv2.imread` reaches the model as BGR, a bug reported
upstream (notAI-tech/NudeNet#203; the release before fed RGB, which Ultralytics models are
trained on). Given the same RGB pixels, scores match nudenet's own to within 0.01 (exactly on
square pictures; elsewhere it resamples after padding, this before).

Known weakness: round, symmetric shapes can pass for body parts (scikit-image's colour wheel
scores 0.83 as exposed buttocks), so treat the flags as a filter's first pass, not a verdict.
"""

from __future__ import annotations

from typing import Literal

import cv2

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

MODEL = "nudenet-320n"
ALGORITHM_VERSION = "1"
Category = Literal["adult", "racy", "none"]

# Output order of the 18 classes, copied from nudenet 3.4.2 (`nudenet/nudenet.py`, `__labels`).
LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
CATEGORIES: dict[str, Category] = {
    "FEMALE_GENITALIA_EXPOSED": "adult",
    "MALE_GENITALIA_EXPOSED": "adult",
    "FEMALE_BREAST_EXPOSED": "adult",
    "ANUS_EXPOSED": "adult",
    "BUTTOCKS_EXPOSED": "adult",
    "FEMALE_GENITALIA_COVERED": "racy",
    "FEMALE_BREAST_COVERED": "racy",
    "ANUS_COVERED": "racy",
    "BUTTOCKS_COVERED": "racy",
    "MALE_BREAST_EXPOSED": "racy",
    "FACE_FEMALE": "none",
    "FACE_MALE": "none",
    "FEET_EXPOSED": "none",
    "FEET_COVERED": "none",
    "ARMPITS_EXPOSED": "none",
    "ARMPITS_COVERED": "none",
    "BELLY_EXPOSED": "none",
    "BELLY_COVERED": "none",
}
NUDENET_INPUT = InputSpec(width=320, height=320, layout="NCHW", color="RGB", scale=1 / 255)
DETECTION_CONFIDENCE = 0.25  # nudenet's own cut-off
NMS_IOU = 0.45  # nudenet's own
ADULT_THRESHOLD = 0.5
RACY_THRESHOLD = 0.5


class BodyPart(ResultPart):
    label: str
    category: Category
    confidence: float
    box: geometry.Box


class AdultResult(geometry.ModelResult):
    is_adult: bool
    adult_score: float
    is_racy: bool
    racy_score: float
    detections: list[BodyPart]


class AdultAnalyzer(Independent):
    name = "adult"
    result_model = AdultResult

    def __init__(self, models: Models) -> None:
        self.model = models.onnx(MODEL)
        self.model_version = models.registry.get(MODEL).version
        self.version = analyzer_version(ALGORITHM_VERSION, self.model_version)

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        detections = self.detect(picture)
        adult, racy = _top_score(detections, "adult"), _top_score(detections, "racy")
        result = AdultResult(
            **geometry.header(picture, MODEL, self.model_version),
            is_adult=adult >= ADULT_THRESHOLD,
            adult_score=geometry.confidence(adult),
            is_racy=racy >= RACY_THRESHOLD,
            racy_score=geometry.confidence(racy),
            detections=detections,
        )
        return Analysis(result)

    def detect(self, picture: Picture) -> list[BodyPart]:
        """NudeNet's body parts in `picture`, best first."""
        pixels = rgb_array(picture)
        fitted, transform = yolo.fit(
            pixels, NUDENET_INPUT, fill=0, centred=False, interpolation=cv2.INTER_LINEAR
        )
        tensor = yolo.to_tensor(fitted, NUDENET_INPUT)
        with self.model.acquire() as session:
            output = session.run(None, {session.get_inputs()[0].name: tensor})[0]
        found = yolo.decode(
            output,
            "yolov8",
            confidence=DETECTION_CONFIDENCE,
            iou=NMS_IOU,
            transform=transform,
            class_aware=False,
        )
        height, width = pixels.shape[:2]
        return [
            BodyPart(
                label=LABELS[index],
                category=CATEGORIES[LABELS[index]],
                confidence=geometry.confidence(score),
                box=geometry.box(x0, y0, x1, y1, width, height),
            )
            for (x0, y0, x1, y1), score, index in zip(
                found.boxes.tolist(), found.scores.tolist(), found.classes.tolist(), strict=True
            )
        ]


def _top_score(detections: list[BodyPart], category: Category) -> float:
    return max((d.confidence for d in detections if d.category == category), default=0.0)
