"""The `objects` feature: things found by the user's own YOLO-format ONNX detectors.

    {"width": 640, "height": 427,
     "detectors": [{"model": {"name": "pets", "version": "2+1a2b3c4d"},
                    "objects": [{"label": "cat", "confidence": 0.91,
                                 "box": {"x": 12, "y": 40, "w": 300, "h": 280}}]}]}

No detector ships by default: the freely installable COCO detectors were measured and found too
weak to be useful (a cat called a person, a rocket a clock), so every registered user detector
(`sightline models add manifest.json` with `"kind": "detector"`) runs instead, each with its
manifest's input preprocessing, thresholds and labels. Objects are sorted by confidence; boxes
are pixels of the oriented picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnxruntime as ort

from sightline.errors import SkipFeature
from sightline.indexing import MIN_LABEL_CONFIDENCE, IndexEntries
from sightline.models import LazyModel, Models, ModelSpec
from sightline.models.manifest import ModelManifest, load_manifest
from sightline.vision import geometry, yolo
from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultPart,
)
from sightline.vision.pixels import rgb_array

NO_DETECTOR = (
    "No object detector is installed: none ships by default, because the freely installable "
    "ones were measured too weak to be useful. Add your own YOLOv8 or YOLOv5 ONNX detector with "
    "`sightline models add manifest.json` (see the README for the manifest)."
)
CODE_VERSION = "1"


class DetectedObject(ResultPart):
    label: str
    confidence: float
    box: geometry.Box


class DetectorObjects(ResultPart):
    model: geometry.ModelInfo
    objects: list[DetectedObject]


class ObjectsResult(geometry.FramedResult):
    detectors: list[DetectorObjects]

    def index_entries(self) -> IndexEntries:
        return IndexEntries(
            labels=[
                found.label
                for detector in self.detectors
                for found in detector.objects
                if found.confidence >= MIN_LABEL_CONFIDENCE
            ]
        )


@dataclass(frozen=True)
class Detector:
    spec: ModelSpec
    manifest: ModelManifest
    model: LazyModel[ort.InferenceSession]

    def detect(self, picture: Picture) -> list[DetectedObject]:
        pixels = rgb_array(picture)
        fitted, transform = yolo.fit(pixels, self.manifest.input)
        tensor = yolo.to_tensor(fitted, self.manifest.input)
        with self.model.acquire() as session:
            output_name = self.manifest.output or session.get_outputs()[0].name
            output = session.run([output_name], {session.get_inputs()[0].name: tensor})[0]
        found = yolo.decode(
            output,
            self.manifest.detector_format(),
            confidence=self.manifest.confidence,
            iou=self.manifest.iou,
            transform=transform,
        )
        labels = self.manifest.label_list()
        width, height = picture.rgb.size
        return [
            DetectedObject(
                label=labels[index],
                confidence=geometry.confidence(score),
                box=geometry.box(x0, y0, x1, y1, width, height),
            )
            for (x0, y0, x1, y1), score, index in zip(
                found.boxes.tolist(), found.scores.tolist(), found.classes.tolist(), strict=True
            )
        ]


class ObjectsAnalyzer(Independent):
    name = "objects"
    result_model = ObjectsResult

    def __init__(self, models: Models) -> None:
        self.detectors = [
            Detector(spec, load_manifest(spec), models.onnx(spec.name))
            for spec in models.registry.specs()
            if spec.manifest.get("kind") == "detector"
        ]
        # Results change with the set of detectors and with each one's files.
        self.version = ";".join(
            [CODE_VERSION, *(f"{d.spec.name}={d.spec.version}" for d in self.detectors)]
        )

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        if not self.detectors:
            raise SkipFeature(NO_DETECTOR)
        result = ObjectsResult(
            **geometry.frame(picture),
            detectors=[
                DetectorObjects(
                    model=geometry.ModelInfo(
                        name=detector.spec.name, version=detector.spec.version
                    ),
                    objects=detector.detect(picture),
                )
                for detector in self.detectors
            ],
        )
        return Analysis(result)
