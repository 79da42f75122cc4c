"""Sightline's typed results in Cloud Vision's shapes (the REST form of the v1 protos):
vertices in pixels, normalised vertices for objects, likelihoods as the service's enum names.
One function per annotation; what Sightline has no result for is left out (the client reads
the proto's default), never made up. docs/compat/google-cloud-vision.md says what each field
carries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sightline.vision.adult import AdultResult
from sightline.vision.color import ColorResult
from sightline.vision.faces import FacesResult
from sightline.vision.geometry import Box, Point
from sightline.vision.objects import ObjectsResult
from sightline.vision.read import ReadResult, TextLine
from sightline.vision.smart_crop import SmartCropResult
from sightline.vision.tags import TagsResult

JSON = dict[str, Any]
# Cloud Vision names landmarks as the picture shows them (LEFT_EYE is on the left of the
# picture), Sightline from the subject's point of view (see `vision.faces`).
LANDMARKS = {
    "LEFT_EYE": "right_eye",
    "RIGHT_EYE": "left_eye",
    "NOSE_TIP": "nose",
    "MOUTH_LEFT": "mouth_right",
    "MOUTH_RIGHT": "mouth_left",
}
# What a face's emotions and headwear would need a model for: the service's "cannot judge".
FACE_LIKELIHOODS = (
    "joyLikelihood",
    "sorrowLikelihood",
    "angerLikelihood",
    "surpriseLikelihood",
    "underExposedLikelihood",
    "blurredLikelihood",
    "headwearLikelihood",
)
# A score's likelihood: the lowest band it reaches, from the top (equal fifths of [0, 1]).
LIKELIHOOD_BANDS = (
    (0.8, "VERY_LIKELY"),
    (0.6, "LIKELY"),
    (0.4, "POSSIBLE"),
    (0.2, "UNLIKELY"),
    (0.0, "VERY_UNLIKELY"),
)
UNKNOWN = "UNKNOWN"


def likelihood(score: float) -> str:
    return next(name for floor, name in LIKELIHOOD_BANDS if score >= floor)


def corners(box: Box) -> list[tuple[int, int]]:
    """Clockwise from the top-left, as the service draws a box."""
    right, bottom = box.x + box.w, box.y + box.h
    return [(box.x, box.y), (right, box.y), (right, bottom), (box.x, bottom)]


def box_polygon(box: Box) -> JSON:
    return {"vertices": _vertices(corners(box))}


def polygon(points: Sequence[Point]) -> JSON:
    return {"vertices": _vertices((point.x, point.y) for point in points)}


def _vertices(points: Iterable[tuple[int, int]]) -> list[JSON]:
    return [{"x": x, "y": y} for x, y in points]


def enclosing(points: Iterable[Point]) -> Box:
    xs, ys = zip(*((point.x, point.y) for point in points), strict=True)
    return Box(x=min(xs), y=min(ys), w=max(xs) - min(xs), h=max(ys) - min(ys))


def capitalised(name: str) -> str:
    """Cloud Vision's labels start with a capital ("Golden retriever"); Sightline's tags are
    lower-case."""
    return name[:1].upper() + name[1:]


def label_annotations(tags: TagsResult, limit: int) -> list[JSON]:
    """The surest first, as the service ranks them (Sightline puts colour words last)."""
    # Sightline's tags have no Knowledge Graph id (`mid`), and no score apart from how
    # relevant the label is to the whole picture: both scores are the tag's confidence.
    ranked = sorted(tags.tags, key=lambda tag: -tag.confidence)
    return [
        {
            "description": capitalised(tag.name),
            "score": tag.confidence,
            "topicality": tag.confidence,
        }
        for tag in ranked[:limit]
    ]


def text_annotations(read: ReadResult) -> list[JSON]:
    """The whole text with the polygon around all of it, then every word."""
    if not read.lines:
        return []
    points = [point for line in read.lines for point in line.polygon]
    whole = {"description": _full_text(read), "boundingPoly": box_polygon(enclosing(points))}
    words = [
        {"description": word.text, "boundingPoly": polygon(word.polygon)}
        for line in read.lines
        for word in line.words
    ]
    return [whole, *words]


def _full_text(read: ReadResult) -> str:
    # The service ends every line, the last too, with a newline.
    return "".join(f"{line.text}\n" for line in read.lines)


def full_text_annotation(read: ReadResult) -> JSON:
    """One page; each of Sightline's lines a block of one paragraph (Sightline finds lines, not
    blocks); each word's characters its symbols, without boxes of their own (Sightline does
    not place characters), the last one carrying the break that follows the word."""
    blocks = [_block(line) for line in read.lines]
    page = {
        "width": read.width,
        "height": read.height,
        "blocks": blocks,
        "confidence": _mean(line.confidence for line in read.lines),
    }
    return {"pages": [page], "text": _full_text(read)}


def _block(line: TextLine) -> JSON:
    words = []
    for position, word in enumerate(line.words):
        last = position == len(line.words) - 1
        symbols: list[JSON] = [
            {"text": character, "confidence": word.confidence} for character in word.text
        ]
        if symbols:
            symbols[-1]["property"] = {
                "detectedBreak": {"type": "EOL_SURE_SPACE" if last else "SPACE"}
            }
        words.append(
            {
                "boundingBox": polygon(word.polygon),
                "symbols": symbols,
                "confidence": word.confidence,
            }
        )
    shape = polygon(line.polygon)
    paragraph = {"boundingBox": shape, "words": words, "confidence": line.confidence}
    return {
        "boundingBox": shape,
        "paragraphs": [paragraph],
        "blockType": "TEXT",
        "confidence": line.confidence,
    }


def _mean(values: Iterable[float]) -> float:
    found = list(values)
    return sum(found) / len(found) if found else 0.0


def face_annotations(faces: FacesResult, limit: int) -> list[JSON]:
    # CenterFace's box is the face itself: it is both the service's boxes (the service's
    # `boundingPoly` is larger, around the head). No roll, pan or tilt: their default, 0.
    return [
        {
            "boundingPoly": box_polygon(face.box),
            "fdBoundingPoly": box_polygon(face.box),
            "landmarks": [
                {
                    "type": name,
                    "position": {
                        "x": getattr(face.landmarks, ours).x,
                        "y": getattr(face.landmarks, ours).y,
                        "z": 0.0,
                    },
                }
                for name, ours in LANDMARKS.items()
            ],
            "detectionConfidence": face.confidence,
            **dict.fromkeys(FACE_LIKELIHOODS, UNKNOWN),
        }
        for face in faces.faces[:limit]
    ]


def safe_search_annotation(adult: AdultResult) -> JSON:
    # NudeNet judges nudity (adult) and suggestive content (racy); nothing in Sightline
    # judges spoofs, medical pictures or violence.
    return {
        "adult": likelihood(adult.adult_score),
        "racy": likelihood(adult.racy_score),
        "spoof": UNKNOWN,
        "medical": UNKNOWN,
        "violence": UNKNOWN,
    }


def image_properties_annotation(color: ColorResult, limit: int) -> JSON:
    # The service's score mixes a colour's share with how salient it is; Sightline knows the
    # share only, so both are the share.
    colors = [
        {
            "color": {
                "red": int(entry.hex[1:3], 16),
                "green": int(entry.hex[3:5], 16),
                "blue": int(entry.hex[5:7], 16),
            },
            "score": entry.fraction,
            "pixelFraction": entry.fraction,
        }
        for entry in color.palette[:limit]
    ]
    return {"dominantColors": {"colors": colors}}


def crop_hints_annotation(crops: SmartCropResult, ratios: Sequence[float] | None) -> JSON:
    # Sightline's crops have neither a confidence nor an importance: both keep their default.
    hints = [
        {"boundingPoly": box_polygon(crop.box)}
        for crop in crops.crops
        if ratios is None or round(crop.aspect_ratio, 2) in ratios
    ]
    return {"cropHints": hints}


def localized_object_annotations(objects: ObjectsResult, limit: int) -> list[JSON]:
    found: list[JSON] = [
        {
            "name": capitalised(thing.label),
            "score": thing.confidence,
            "boundingPoly": {
                "normalizedVertices": [
                    {"x": x / objects.width, "y": y / objects.height} for x, y in corners(thing.box)
                ]
            },
        }
        for detector in objects.detectors
        for thing in detector.objects
    ]
    return sorted(found, key=lambda entry: -entry["score"])[:limit]
