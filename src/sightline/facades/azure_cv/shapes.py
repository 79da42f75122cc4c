"""Sightline's typed feature results in Computer Vision 3.2's answer shapes, one function per
visual feature. What Sightline does not measure is left out (the SDK reads it as None), never
filled with a made-up value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sightline import __version__
from sightline.vision.adult import AdultResult
from sightline.vision.base import ResultModel
from sightline.vision.color import ColorResult
from sightline.vision.faces import FacesResult
from sightline.vision.geometry import Box, Point
from sightline.vision.image_type import ImageTypeResult
from sightline.vision.objects import ObjectsResult
from sightline.vision.read import ReadResult
from sightline.vision.tags import TagsResult

JSON = dict[str, Any]
R = TypeVar("R", bound=ResultModel)
# Clients log it; a date would claim one of Azure's models.
MODEL_VERSION = f"sightline-{__version__}"
READ_VERSION = "3.2.0"
# ImageType's clipArtType: 0 non-clip-art, 1 ambiguous, 2 normal, 3 good clip art; the score
# Sightline gives a clip-art reading, cut into those four steps.
CLIP_ART_STEPS = (0.25, 0.5, 0.75)


def typed(result: ResultModel | None, model: type[R]) -> R:
    """`result` as the model its feature gives (a result that does not fit is a bug here)."""
    if not isinstance(result, model):
        raise TypeError(f"Expected a {model.__name__}, got {type(result).__name__}.")
    return result


def metadata(image: JSON) -> JSON:
    return {
        "width": image["width"],
        "height": image["height"],
        "format": str(image["format"]).capitalize(),  # "JPEG" → "Jpeg", as the service says it
    }


def rectangle(box: Box) -> JSON:
    return {"x": box.x, "y": box.y, "w": box.w, "h": box.h}


def tags(found: ResultModel | None) -> list[JSON]:
    result = typed(found, TagsResult)
    # The service lists tags surest first; Sightline's list puts colour words after the rest.
    ranked = sorted(result.tags, key=lambda tag: -tag.confidence)
    return [{"name": tag.name, "confidence": tag.confidence} for tag in ranked]


def faces(found: ResultModel | None) -> list[JSON]:
    result = typed(found, FacesResult)
    # Age and gender: Sightline does not estimate them (Azure retired them too).
    return [
        {
            "faceRectangle": {
                "left": face.box.x,
                "top": face.box.y,
                "width": face.box.w,
                "height": face.box.h,
            }
        }
        for face in result.faces
    ]


def objects(found: ResultModel | None) -> list[JSON]:
    result = typed(found, ObjectsResult)
    return [
        {"rectangle": rectangle(found.box), "object": found.label, "confidence": found.confidence}
        for detector in result.detectors
        for found in detector.objects
    ]


def color(found: ResultModel | None) -> JSON:
    result = typed(found, ColorResult)
    return {
        "dominantColorForeground": result.dominant_color_foreground.capitalize(),
        "dominantColorBackground": result.dominant_color_background.capitalize(),
        "dominantColors": [name.capitalize() for name in result.dominant_colors],
        "accentColor": result.accent_color,
        "isBWImg": result.is_black_and_white,
    }


def adult(found: ResultModel | None) -> JSON:
    result = typed(found, AdultResult)
    # Gore is not measured: isGoryContent and goreScore are left out.
    return {
        "isAdultContent": result.is_adult,
        "isRacyContent": result.is_racy,
        "adultScore": result.adult_score,
        "racyScore": result.racy_score,
    }


def image_type(found: ResultModel | None) -> JSON:
    result = typed(found, ImageTypeResult)
    clip_art = sum(result.scores.clip_art >= step for step in CLIP_ART_STEPS)
    return {"clipArtType": clip_art, "lineDrawingType": int(result.type == "line_drawing")}


# visualFeatures value → (Sightline feature, answer field, shape)
VISUAL_FEATURES: dict[str, tuple[str, str, Callable[[ResultModel | None], Any]]] = {
    "Tags": ("tags", "tags", tags),
    "Faces": ("faces", "faces", faces),
    "Objects": ("objects", "objects", objects),
    "Color": ("color", "color", color),
    "Adult": ("adult", "adult", adult),
    "ImageType": ("image_type", "imageType", image_type),
}


def polygon(points: list[Point], box: Box) -> list[float]:
    """The service's boundingBox: four corners, clockwise from the top left, as 8 numbers."""
    if len(points) != 4:
        points = [
            Point(x=box.x, y=box.y),
            Point(x=box.x + box.w, y=box.y),
            Point(x=box.x + box.w, y=box.y + box.h),
            Point(x=box.x, y=box.y + box.h),
        ]
    return [float(value) for point in points for value in (point.x, point.y)]


def read(found: ResultModel | None, language: str | None) -> JSON:
    """`analyzeResult` of a succeeded Read operation: one page, in pixels."""
    result = typed(found, ReadResult)
    lines = []
    for line in result.lines:
        words = [
            {
                "boundingBox": polygon(word.polygon, line.box),
                "text": word.text,
                "confidence": word.confidence,
            }
            for word in line.words
        ]
        lines.append(
            {
                "boundingBox": polygon(line.polygon, line.box),
                "text": line.text,
                # Handwriting is not told apart from print: every line is "other".
                "appearance": {"style": {"name": "other", "confidence": line.confidence}},
                "words": words,
            }
        )
    page: JSON = {
        "page": 1,
        "angle": float(result.orientation.angle),
        "width": float(result.width),
        "height": float(result.height),
        "unit": "pixel",
        "lines": lines,
    }
    if language is not None:
        page["language"] = language
    return {"version": READ_VERSION, "modelVersion": MODEL_VERSION, "readResults": [page]}
