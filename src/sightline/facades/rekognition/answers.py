"""Sightline's typed results in Rekognition's shapes: boxes and points as fractions of the
image's width and height, confidences in percent, names as Rekognition spells them. One function
per operation; what Sightline has no result for is left out, never made up (see
docs/compat/aws-rekognition.md)."""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from typing import Any

from sightline.vision.adult import AdultResult
from sightline.vision.faces import FacesResult
from sightline.vision.geometry import Box, FramedResult, ModelResult, Point
from sightline.vision.objects import ObjectsResult
from sightline.vision.read import ReadResult
from sightline.vision.tags import TagsResult

JSON = dict[str, Any]
# A result whose boxes and points are pixels of its `width` x `height`.
Frame = FramedResult | ModelResult

# Nudenet's exposed and covered body parts in Rekognition's moderation taxonomy (version 7):
# each third-level label with its second- and first-level parents. Parts that are not
# moderation matters (faces, feet, armpits, belly) have no label there and are left out.
_EXPLICIT = ("Explicit Nudity", "Explicit")
_NON_EXPLICIT = ("Non-Explicit Nudity", "Non-Explicit Nudity of Intimate parts and Kissing")
_OBSTRUCTED = ("Obstructed Intimate Parts", "Non-Explicit Nudity of Intimate parts and Kissing")
MODERATION_TAXONOMY: dict[str, tuple[str, ...]] = {
    "FEMALE_GENITALIA_EXPOSED": ("Exposed Female Genitalia", *_EXPLICIT),
    "MALE_GENITALIA_EXPOSED": ("Exposed Male Genitalia", *_EXPLICIT),
    "FEMALE_BREAST_EXPOSED": ("Exposed Female Nipple", *_EXPLICIT),
    "BUTTOCKS_EXPOSED": ("Exposed Buttocks or Anus", *_EXPLICIT),
    "ANUS_EXPOSED": ("Exposed Buttocks or Anus", *_EXPLICIT),
    "MALE_BREAST_EXPOSED": ("Exposed Male Nipple", *_NON_EXPLICIT),
    "FEMALE_BREAST_COVERED": ("Obstructed Female Nipple", *_OBSTRUCTED),
    "FEMALE_GENITALIA_COVERED": _OBSTRUCTED,
    "BUTTOCKS_COVERED": ("Partially Exposed Buttocks", *_NON_EXPLICIT),
    "ANUS_COVERED": _OBSTRUCTED,
}
# Rekognition's landmarks are named as the picture shows them (eyeLeft is on the left of the
# picture), Sightline's from the subject's point of view (see `vision.faces`).
LANDMARKS = {
    "eyeLeft": "right_eye",
    "eyeRight": "left_eye",
    "nose": "nose",
    "mouthLeft": "mouth_right",
    "mouthRight": "mouth_left",
}


def model_version(result: ModelResult) -> str:
    return f"{result.model.name}/{result.model.version}"


def percent(confidence: float) -> float:
    return round(confidence * 100, 3)


def bounding_box(box: Box, frame: Frame) -> JSON:
    return {
        "Width": box.w / frame.width,
        "Height": box.h / frame.height,
        "Left": box.x / frame.width,
        "Top": box.y / frame.height,
    }


def polygon(points: Sequence[Point], frame: Frame) -> list[JSON]:
    return [{"X": point.x / frame.width, "Y": point.y / frame.height} for point in points]


def label_name(word: str) -> str:
    """Rekognition capitalises its labels ("Golden Retriever"); Sightline's tags are lower-case."""
    return string.capwords(word)


def labels(tags: TagsResult, objects: ObjectsResult | None) -> list[JSON]:
    """Every tag, and every broader term above one as a label of its own (Rekognition lists
    "Animal" beside "Cat"), as sure as the surest label below it; each with its broader terms as
    `Parents`. Detected objects become the `Instances` of the label with their name."""
    found: dict[str, JSON] = {}

    def label(word: str, parents: Sequence[str], confidence: float) -> JSON:
        name = label_name(word)
        entry = found.setdefault(
            name,
            {
                "Name": name,
                "Confidence": 0.0,
                "Instances": [],
                "Parents": [{"Name": label_name(parent)} for parent in parents],
                "Aliases": [],
                "Categories": [],
            },
        )
        entry["Confidence"] = max(entry["Confidence"], percent(confidence))
        return entry

    for tag in tags.tags:
        chain = [tag.name, *tag.broader]
        for position, word in enumerate(chain):
            label(word, chain[position + 1 :], tag.confidence)
    if objects is not None:
        for detector in objects.detectors:
            for thing in detector.objects:
                label(thing.label, (), thing.confidence)["Instances"].append(
                    {
                        "BoundingBox": bounding_box(thing.box, objects),
                        "Confidence": percent(thing.confidence),
                    }
                )
    return sorted(found.values(), key=lambda entry: -entry["Confidence"])


def text_detections(read: ReadResult) -> list[JSON]:
    """Lines first, then words, each word pointing at its line (`ParentId`), as Rekognition
    answers them."""
    lines: list[JSON] = []
    words: list[JSON] = []
    for line_id, line in enumerate(read.lines):
        lines.append(_text(line.text, "LINE", line_id, None, line.confidence, line.polygon, read))
        for word in line.words:
            word_id = len(read.lines) + len(words)
            words.append(
                _text(word.text, "WORD", word_id, line_id, word.confidence, word.polygon, read)
            )
    return [*lines, *words]


def _text(
    text: str,
    kind: str,
    number: int,
    parent: int | None,
    confidence: float,
    points: Sequence[Point],
    frame: Frame,
) -> JSON:
    detection: JSON = {
        "DetectedText": text,
        "Type": kind,
        "Id": number,
        "Confidence": percent(confidence),
        "Geometry": {
            "BoundingBox": bounding_box(_enclosing(points), frame),
            "Polygon": polygon(points, frame),
        },
    }
    if parent is not None:
        detection["ParentId"] = parent
    return detection


def _enclosing(points: Iterable[Point]) -> Box:
    xs, ys = zip(*((point.x, point.y) for point in points), strict=True)
    return Box(x=min(xs), y=min(ys), w=max(xs) - min(xs), h=max(ys) - min(ys))


def face_details(faces: FacesResult) -> list[JSON]:
    return [
        {
            "BoundingBox": bounding_box(face.box, faces),
            "Landmarks": [
                {
                    "Type": name,
                    "X": getattr(face.landmarks, ours).x / faces.width,
                    "Y": getattr(face.landmarks, ours).y / faces.height,
                }
                for name, ours in LANDMARKS.items()
            ],
            "Confidence": percent(face.confidence),
        }
        for face in faces.faces
    ]


def moderation_labels(adult: AdultResult) -> list[JSON]:
    """Each body part's label and its parents, as sure as the surest part under them."""
    found: dict[str, JSON] = {}
    for part in adult.detections:
        chain = MODERATION_TAXONOMY.get(part.label, ())
        for position, name in enumerate(chain):
            label = found.setdefault(
                name,
                {
                    "Name": name,
                    "ParentName": chain[position + 1] if position + 1 < len(chain) else "",
                    "TaxonomyLevel": len(chain) - position,
                    "Confidence": 0.0,
                },
            )
            label["Confidence"] = max(label["Confidence"], percent(part.confidence))
    return sorted(found.values(), key=lambda label: (label["TaxonomyLevel"], -label["Confidence"]))
