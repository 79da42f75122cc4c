"""Photograph, clip art or line drawing, judged from pixel statistics alone (no model).

Result::

    {"method": "statistics", "version": "1", "type": "photo",
     "scores": {"photo": 0.9977, "clip_art": 0.0023, "line_drawing": 0.0},
     "statistics": {"smooth_share": 0.9357, "ink_share": 0.7989, "ink_chroma": 60.19,
                    "stroke_edges": 0.1159}}

The scores add up to 1 and `type` is the highest. Everything is measured on the shared small copy
(`pixels.small_rgb`, longest side 512), so the thresholds do not depend on the picture's size.

Photo or graphic. Drawn artwork fills areas with exactly one colour and changes colour in one
step at an outline; a camera never records a perfectly constant area (sensor noise, shading) and
its edges spread over a few pixels. So each pixel is classed by the largest step to its right or
lower neighbour over the three channels: *flat* (no step), *edge* (a step over `EDGE_STEP`) or
*smooth* (anything between). `smooth_share` is smooth / (flat + smooth): about 0.8-1 for photos
(also noisy, blurred and greyscale ones), under 0.3 for flat-colour art even after JPEG
compression, which leaves flat 8x8 blocks flat. Flat pixels at 0 or 255 in every channel count
half, because clipped skies and black studio backgrounds are flat in photos too (they still
count, or black-on-white art would be judged on its anti-aliased edges alone).
The graphic probability is a logistic of `smooth_share` around `SMOOTH_SPLIT`.

Line drawing. Dark, colourless, thin strokes on light paper: the paper level is the most common
luma, give or take `PAPER_TOLERANCE`; the paper must be light, the rest ("ink") must
be a small share of the picture, nearly grey (`ink_chroma`, the mean max-min channel spread of
ink pixels), and made of strokes rather than filled shapes: `stroke_edges`, edge pixels per ink
pixel, is about 1-2 for pen lines and well under 0.5 for filled areas. Each condition is a soft
logistic gate, and the line-drawing score is their product.

Scores: line_drawing = L; clip_art = (1 - L) * G; photo = (1 - L) * (1 - G), where G is the
graphic probability. A line drawing is also a graphic, so it is tested first.

Limits: art with colour gradients or airbrushing reads as a photo; a photo of a white wall with
thin dark cables may read as a line drawing; coloured-pen drawings read as clip art.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultModel,
    ResultPart,
)
from sightline.vision.geometry import confidence
from sightline.vision.pixels import small_luma, small_rgb

Bools = npt.NDArray[np.bool_]
Plane = npt.NDArray[np.uint8]

ImageType = Literal["photo", "clip_art", "line_drawing"]
TYPES: tuple[ImageType, ...] = ("photo", "clip_art", "line_drawing")
# A step between neighbours above this (0-255, largest channel) is an outline or a hard edge.
EDGE_STEP = 32
SMOOTH_SPLIT = 0.45
SMOOTH_SLOPE = 0.08
CLIPPED_FLAT_WEIGHT = 0.5
PAPER_TOLERANCE = 24
PAPER_MIN_LEVEL = 150.0
INK_MIN_SHARE = 0.002
INK_MAX_SHARE = 0.3
# Max-min channel spread below which ink reads as grey or black pen.
INK_MAX_CHROMA = 40.0
STROKE_MIN_EDGES = 0.5


@dataclass(frozen=True)
class Statistics:
    smooth_share: float
    paper_level: float
    ink_share: float
    ink_chroma: float
    stroke_edges: float


class TypeScores(ResultPart):
    photo: float
    clip_art: float
    line_drawing: float


class TypeStatistics(ResultPart):
    smooth_share: float
    ink_share: float
    ink_chroma: float
    stroke_edges: float


class ImageTypeResult(ResultModel):
    method: str
    version: str
    type: ImageType
    scores: TypeScores
    statistics: TypeStatistics


class ImageTypeAnalyzer(Independent):
    name = "image_type"
    version = "1"
    result_model = ImageTypeResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        stats = _measure(small_rgb(picture), small_luma(picture))
        line = _line_drawing(stats)
        graphic = _logistic((SMOOTH_SPLIT - stats.smooth_share) / SMOOTH_SLOPE)
        scores = TypeScores(
            photo=confidence((1 - line) * (1 - graphic)),
            clip_art=confidence((1 - line) * graphic),
            line_drawing=confidence(line),
        )
        result = ImageTypeResult(
            method="statistics",
            version=self.version,
            type=max(TYPES, key=lambda kind: float(getattr(scores, kind))),
            scores=scores,
            statistics=TypeStatistics(
                smooth_share=round(stats.smooth_share, 4),
                ink_share=round(stats.ink_share, 4),
                ink_chroma=round(stats.ink_chroma, 2),
                stroke_edges=round(stats.stroke_edges, 4),
            ),
        )
        return Analysis(result)


def _measure(pixels: Plane, luma: npt.NDArray[np.float32]) -> Statistics:
    """The statistics of an (H, W, 3) picture and its luma that the scores are made from."""
    planes = [pixels[..., channel] for channel in range(3)]
    brightest = np.maximum(np.maximum(planes[0], planes[1]), planes[2])
    darkest = np.minimum(np.minimum(planes[0], planes[1]), planes[2])
    steps = _steps(planes)
    paper_level, paper = _paper(luma)
    ink = ~paper
    ink_pixels = max(int(ink.sum()), 1)
    chroma = brightest - darkest
    return Statistics(
        smooth_share=_smooth_share(steps, (brightest == 0) | (darkest == 255)),
        paper_level=paper_level,
        ink_share=float(ink.mean()),
        ink_chroma=float(chroma.sum(where=ink, dtype=np.int64)) / ink_pixels,
        stroke_edges=int((steps > EDGE_STEP).sum()) / ink_pixels,
    )


def _line_drawing(stats: Statistics) -> float:
    """The product of soft gates: light paper, a little grey ink, drawn as strokes."""
    return (
        _logistic((stats.paper_level - PAPER_MIN_LEVEL) / 8.0)
        * _logistic((stats.ink_share - INK_MIN_SHARE) / 0.001)
        * _logistic((INK_MAX_SHARE - stats.ink_share) / 0.04)
        * _logistic((INK_MAX_CHROMA - stats.ink_chroma) / 6.0)
        * _logistic((stats.stroke_edges - STROKE_MIN_EDGES) / 0.1)
    )


def _steps(planes: list[Plane]) -> Plane:
    """Largest channel difference to the right or lower neighbour; 0 on the last row/column."""
    steps = np.zeros(planes[0].shape, dtype=np.uint8)
    for plane in planes:
        np.maximum(steps[:, :-1], _difference(plane[:, 1:], plane[:, :-1]), out=steps[:, :-1])
        np.maximum(steps[:-1], _difference(plane[1:], plane[:-1]), out=steps[:-1])
    return steps


def _difference(first: Plane, second: Plane) -> Plane:
    """|first - second| without leaving uint8, which is several times faster than widening."""
    difference: Plane = np.maximum(first, second) - np.minimum(first, second)
    return difference


def _smooth_share(steps: Plane, clipped: Bools) -> float:
    flat = steps == 0
    flat_weight = int(flat.sum()) - CLIPPED_FLAT_WEIGHT * int((flat & clipped).sum())
    smooth = int(((steps > 0) & (steps <= EDGE_STEP)).sum())
    # All edges (a checkerboard) reads as drawn: the share tends to 0.
    return smooth / (flat_weight + smooth + 1e-3 * steps.size)


def _paper(luma: npt.NDArray[np.float32]) -> tuple[float, Bools]:
    """The most common luma level, and which pixels are near it."""
    histogram = np.bincount(luma.astype(np.uint8).ravel(), minlength=256)
    level = float(histogram.argmax())
    paper: Bools = np.abs(luma - level) <= PAPER_TOLERANCE
    return level, paper


def _logistic(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(value, -60.0), 60.0)))
