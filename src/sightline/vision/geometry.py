"""The result shapes every model feature shares: the header (the model, and the size of the
frame coordinates are in), pixel boxes and points in the oriented image (EXIF rotation applied),
clipped to it, labels, and confidences from 0 to 1."""

from __future__ import annotations

from typing import Any

from sightline.vision.base import Picture, ResultModel, ResultPart


class ModelInfo(ResultPart):
    name: str
    version: str


class Point(ResultPart):
    x: int
    y: int


class Box(ResultPart):
    x: int
    y: int
    w: int
    h: int


class Label(ResultPart):
    name: str
    confidence: float


class FramedResult(ResultModel):
    """A result whose boxes and points are pixels of a `width` x `height` frame."""

    width: int
    height: int


class ModelResult(ResultModel):
    """A result made by a model: which one, and the frame its coordinates are in."""

    model: ModelInfo
    width: int
    height: int


def header(picture: Picture, model_name: str, model_version: str) -> dict[str, Any]:
    """The fields of `ModelResult`: the model, and the frame of `picture.rgb`."""
    return {"model": ModelInfo(name=model_name, version=model_version), **frame(picture)}


def frame(picture: Picture) -> dict[str, Any]:
    """The fields of `FramedResult`: `width` and `height` of `picture.rgb`."""
    width, height = picture.rgb.size
    return {"width": width, "height": height}


def confidence(value: float) -> float:
    return round(min(max(float(value), 0.0), 1.0), 4)


def point(x: float, y: float, width: int, height: int) -> Point:
    return Point(x=_clip(x, width), y=_clip(y, height))


def box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Box:
    """A box from corner coordinates, clipped to the image."""
    left, top = _clip(x0, width), _clip(y0, height)
    right, bottom = _clip(x1, width), _clip(y1, height)
    return Box(x=left, y=top, w=max(right - left, 0), h=max(bottom - top, 0))


def polygon(points: list[tuple[float, float]], width: int, height: int) -> list[Point]:
    return [point(x, y, width, height) for x, y in points]


def _clip(value: float, side: int) -> int:
    return int(round(min(max(value, 0.0), side)))
