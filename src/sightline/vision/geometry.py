"""The JSON shapes every model feature shares: the result's header (the model, and the size of
the frame coordinates are in), pixel boxes and points in the oriented image (EXIF rotation
applied), clipped to it, and confidences from 0 to 1."""

from __future__ import annotations

from sightline.vision.base import JSON, Picture


def header(picture: Picture, model_name: str, model_version: str) -> JSON:
    """`{"model": {"name", "version"}, "width", "height"}`: what a model feature's result
    starts with."""
    return {"model": {"name": model_name, "version": model_version}, **frame(picture)}


def frame(picture: Picture) -> JSON:
    """`{"width", "height"}` of `picture.rgb`, the frame every box and point is in."""
    width, height = picture.rgb.size
    return {"width": width, "height": height}


def confidence(value: float) -> float:
    return round(min(max(float(value), 0.0), 1.0), 4)


def point(x: float, y: float, width: int, height: int) -> JSON:
    return {"x": int(round(min(max(x, 0.0), width))), "y": int(round(min(max(y, 0.0), height)))}


def box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> JSON:
    """`{"x", "y", "w", "h"}` from corner coordinates, clipped to the image."""
    left, top = point(x0, y0, width, height).values()
    right, bottom = point(x1, y1, width, height).values()
    return {"x": left, "y": top, "w": max(right - left, 0), "h": max(bottom - top, 0)}


def polygon(points: list[tuple[float, float]], width: int, height: int) -> list[JSON]:
    return [point(x, y, width, height) for x, y in points]
