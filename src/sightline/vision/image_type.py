"""Photograph, clip art, line drawing, document or screenshot, judged from pixel statistics
alone (no model).

Result::

    {"method": "statistics", "version": "3", "type": "clip_art", "graphic": "chart",
     "scores": {"photo": 0.0053, "clip_art": 0.9945, "line_drawing": 0.0, "document": 0.0001,
                "screenshot": 0.0001},
     "statistics": {"smooth_share": 0.0312, "ink_share": 0.3068, "ink_chroma": 129.36,
                    "stroke_edges": 0.14, "text_share": 0.0154, "glyphs": 16, "panels": 2,
                    "flat_share": 0.9379, "background_share": 0.6928, "content_box": 0.7479,
                    "content_offset": 0.0367, "content_smooth": 0.0616, "bars": 5,
                    "axes": true, "disc": false}}

(a bar chart from tests/support/graphics.py.)

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

Document or screenshot. Both show type: the ink (everything off the paper level) is cut into
8-connected pieces, and pieces `GLYPH_HEIGHTS` tall (3-28 pixels at the small size: letters,
words or whole lines of 6-60 pt type on a page) that do not fill their box are glyphs.
`text_share` is the glyphs' share of the ink and `glyphs` their number; text T is a soft gate on
both (over 0.35 and 20). Solid pieces (filling their box) longer than a glyph are left out of
that ink: a screen's title bar, buttons and highlighted rows, which swallow the type on them (a
window with a dark title bar and blue buttons had text share 0.31 with them and was clip art;
0.98 without). A screen shows *panels*: colours (5 bits a channel) that each fill 2%
of the picture with exactly flat pixels (title bars, toolbars, sidebars, cards, buttons), over a
picture that is mostly flat (`flat_share`, steps of at most 1, over 0.62); screen S gates 3 or
more panels and that flatness. A page P is light paper (level over 150) covering over 70% of the
picture. screenshot = T * S; document = T * (1 - S) * P: a light-themed screen is also light
paper, so the screen is tested first. A noisy scan has one panel at most (noise breaks exact
flatness) and flat shares down to 0.3.

Measured (PNG unless said; scans: turned 2-3 degrees, Gaussian noise of 6-10, JPEG quality
32-35): 18 of 18 pages (invoice, long and short receipt, two claim forms, memo; clean and two
scans each) are documents at 0.93-1.0 (text share 0.60-0.99, 84-226 glyphs, paper 0.90-0.97,
0-1 panel, or up to 4 with flatness at most 0.57 on scanned receipts); 7 of 7 screen captures
(an app window at 640x400, 1280x800 and 1920x1080, a web page at 1280x720 and 1366x768, JPEG
80 of each) are screenshots (5-6 panels, flatness 0.69-0.79); 17 scikit-image photos stay
photos (hubble_deep_field's stars are glyph-like, text share 0.75, but on a black level with no
panels; textures like grass give up to 389 glyphs at text share under 0.13); the cartoon and
line-drawing tests keep their types. Also right: pages turned 90 degrees, an invoice as a
310-pixel thumbnail, a memo scanned 10 degrees askew, both screens in a dark theme (inverted);
a game frame (a blurred, grainy scene under its HUD) is a photo: its scene has no flat pixel
(flat share 0.003, no panel, smooth share 1.0), and the HUD's outlined letters, blended with
the scene at the small size, are 50 glyph pieces but 0.16 of the ink (the scene's lights are
ink too). Nothing here tells HUD type over a rendered scene from a photo of signs or captions,
so game frames stay photos (the tags' ImageNet classes may still say so). scikit-image's `page` (a
photographed page, shaded from one side to the other) is not a document: its paper level
covers a third of it.

Chart or logo (`graphic`, independent of the type; the marks are measured in `layout_marks`).
A chart: `CHART_MIN_BARS` or more solid bars on one base line, unlike in length; or a disc cut
into coloured sectors (a pie); or axes on a background covering `CHART_AXES_MIN_BACKGROUND` of
the picture with `CHART_AXES_MIN_GLYPHS` type pieces (tick numbers). A logo, when not a chart:
content inside a box of at most `LOGO_MAX_BOX` of the picture, centred within `LOGO_MAX_OFFSET`,
on a background covering `LOGO_MIN_BACKGROUND`, with under `LOGO_MAX_GLYPHS` type pieces and
flat fills (`content_smooth`, the content's smooth share, under `LOGO_MAX_SMOOTH`; photos
centred on white measure 0.81-0.99, flat logos 0-0.66, small JPEG ones up to 1).
Measured on sets rendered by tests/support/graphics.py with three seeds (a third of the charts
and of the logos JPEG): 260 of 270 charts (bar, line and pie, 400-1200 pixels) are charts, none
a logo; 153 of 180 logos (word marks, shapes, shapes over words, 128-800 pixels, white or
coloured background) are logos, none a chart; none of 53 other pictures is either (18
scikit-image photos, 10 pages clean and scanned, 6 screen captures PNG and JPEG, a game
frame, 6 cartoons, 3 line drawings, 10 photos centred on white at 0.4 and 0.6 of the size).
The thresholds were set on the first seed. Misses: line charts whose thin axes blur under JPEG
at the small size, pies whose sectors are too small to count, and logos whose content is all
anti-aliased edge at 128 pixels, whose JPEG noise leaves no flat pixel in its fills, or which
spreads past the box limit. Counting steps up to 2 (or 4) as flat for `content_smooth` finds
5 (8) more logos in 120 but calls 5 (8) of 53 other pictures logos, the photos centred on
white among them, so flatness stays exact. Expect false logos on icons,
a single centred word or object on plain paper, and false charts on drawn tables of
unequal coloured bars (a Gantt chart is a chart).

Scores: screenshot = T * S; document = T * (1 - S) * P; with R = 1 - both,
line_drawing = R * L; clip_art = R * (1 - L) * G; photo = R * (1 - L) * (1 - G), where G is the
graphic probability. A line drawing is also a graphic, so it is tested first.

Limits: art with colour gradients or airbrushing reads as a photo; a photo of a white wall with
thin dark cables may read as a line drawing; coloured-pen drawings read as clip art. A poster
or slide with text over flat colour panels reads as a screenshot; a photographed page with
shading or a dark background reads as a photo; dense small print (under about 6 pt at A4)
merges into pieces under 3 pixels tall and is not counted as type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
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
from sightline.vision.layout_marks import Codes, LayoutMarks, colour_codes, layout_marks
from sightline.vision.pixels import small_luma, small_rgb

Bools = npt.NDArray[np.bool_]
Plane = npt.NDArray[np.uint8]

ImageType = Literal["photo", "clip_art", "line_drawing", "document", "screenshot"]
Graphic = Literal["chart", "logo"]
TYPES: tuple[ImageType, ...] = ("photo", "clip_art", "line_drawing", "document", "screenshot")
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
# Text: ink pieces (8-connected) this tall at the small size are letters, words or lines of
# type from about 6 to 60 pt on an A4 page; a piece filling its box more than GLYPH_MAX_FILL is
# a solid shape, not type.
GLYPH_HEIGHTS = (3, 28)
GLYPH_MAX_FILL = 0.85
TEXT_MIN_SHARE = 0.35
TEXT_MIN_GLYPHS = 20
PAGE_MIN_PAPER = 0.7
# Screens: exactly flat colours each covering this share of the picture are panels (bars,
# sidebars, cards, buttons); colours are compared at 5 bits a channel.
PANEL_MIN_SHARE = 0.02
SCREEN_MIN_PANELS = 3
SCREEN_MIN_FLAT = 0.62
# Charts and logos (see the module docstring for the figures behind these).
CHART_MIN_BARS = 3
CHART_AXES_MIN_BACKGROUND = 0.85
CHART_AXES_MIN_GLYPHS = 5
LOGO_MAX_BOX = 0.45
LOGO_MAX_OFFSET = 0.05
LOGO_MIN_BACKGROUND = 0.6
LOGO_MAX_GLYPHS = 15
LOGO_MAX_SMOOTH = 0.7


@dataclass(frozen=True)
class Statistics:
    smooth_share: float
    paper_level: float
    ink_share: float
    ink_chroma: float
    stroke_edges: float
    paper_share: float
    text_share: float
    glyphs: int
    panels: int
    flat_share: float
    marks: LayoutMarks


class TypeScores(ResultPart):
    photo: float
    clip_art: float
    line_drawing: float
    document: float
    screenshot: float


class TypeStatistics(ResultPart):
    smooth_share: float
    ink_share: float
    ink_chroma: float
    stroke_edges: float
    text_share: float
    glyphs: int
    panels: int
    flat_share: float
    background_share: float
    content_box: float
    content_offset: float
    content_smooth: float
    bars: int
    axes: bool
    disc: bool


class ImageTypeResult(ResultModel):
    method: str
    version: str
    type: ImageType
    graphic: Graphic | None
    scores: TypeScores
    statistics: TypeStatistics


class ImageTypeAnalyzer(Independent):
    name = "image_type"
    version = "3"
    result_model = ImageTypeResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        stats = _measure(small_rgb(picture), small_luma(picture))
        screenshot, document = _screenshot_and_document(stats)
        rest = 1.0 - screenshot - document
        line = _line_drawing(stats)
        graphic = _logistic((SMOOTH_SPLIT - stats.smooth_share) / SMOOTH_SLOPE)
        scores = TypeScores(
            photo=confidence(rest * (1 - line) * (1 - graphic)),
            clip_art=confidence(rest * (1 - line) * graphic),
            line_drawing=confidence(rest * line),
            document=confidence(document),
            screenshot=confidence(screenshot),
        )
        marks = stats.marks
        result = ImageTypeResult(
            method="statistics",
            version=self.version,
            type=max(TYPES, key=lambda kind: float(getattr(scores, kind))),
            graphic=_graphic(stats),
            scores=scores,
            statistics=TypeStatistics(
                smooth_share=round(stats.smooth_share, 4),
                ink_share=round(stats.ink_share, 4),
                ink_chroma=round(stats.ink_chroma, 2),
                stroke_edges=round(stats.stroke_edges, 4),
                text_share=round(stats.text_share, 4),
                glyphs=stats.glyphs,
                panels=stats.panels,
                flat_share=round(stats.flat_share, 4),
                background_share=round(marks.background_share, 4),
                content_box=round(marks.content_box, 4),
                content_offset=round(marks.content_offset, 4),
                content_smooth=round(marks.content_smooth, 4),
                bars=marks.bars,
                axes=marks.axes,
                disc=marks.disc,
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
    text_share, glyphs = _text(ink)
    codes = colour_codes(pixels)
    return Statistics(
        smooth_share=_smooth_share(steps, (brightest == 0) | (darkest == 255)),
        paper_level=paper_level,
        ink_share=float(ink.mean()),
        ink_chroma=float(chroma.sum(where=ink, dtype=np.int64)) / ink_pixels,
        stroke_edges=int((steps > EDGE_STEP).sum()) / ink_pixels,
        paper_share=float(paper.mean()),
        text_share=text_share,
        glyphs=glyphs,
        panels=_panels(codes, steps == 0),
        flat_share=float((steps <= 1).mean()),
        marks=layout_marks(pixels, steps, codes),
    )


def _screenshot_and_document(stats: Statistics) -> tuple[float, float]:
    """Both need type: many letter-sized pieces making up most of the ink. A screen also
    shows several exactly flat panels over a mostly flat picture; a page is light paper
    covering most of the picture (a light-themed screen is also that, so the screen is
    tested first)."""
    text = _logistic((stats.text_share - TEXT_MIN_SHARE) / 0.05) * _logistic(
        (stats.glyphs - TEXT_MIN_GLYPHS) / 4.0
    )
    screen = _logistic((stats.panels - SCREEN_MIN_PANELS + 0.5) / 0.3) * _logistic(
        (stats.flat_share - SCREEN_MIN_FLAT) / 0.02
    )
    page = _logistic((stats.paper_level - PAPER_MIN_LEVEL) / 8.0) * _logistic(
        (stats.paper_share - PAGE_MIN_PAPER) / 0.03
    )
    return text * screen, text * (1 - screen) * page


def _graphic(stats: Statistics) -> Graphic | None:
    """A chart: aligned bars, a divided disc, or axes on a plain background with labels. A
    logo: a small, centred drawing of flat colours on a plain background with little type."""
    marks = stats.marks
    if (
        marks.bars >= CHART_MIN_BARS
        or marks.disc
        or (
            marks.axes
            and marks.background_share >= CHART_AXES_MIN_BACKGROUND
            and stats.glyphs >= CHART_AXES_MIN_GLYPHS
        )
    ):
        return "chart"
    if (
        marks.content_box <= LOGO_MAX_BOX
        and marks.content_offset <= LOGO_MAX_OFFSET
        and marks.background_share >= LOGO_MIN_BACKGROUND
        and stats.glyphs < LOGO_MAX_GLYPHS
        and marks.content_smooth < LOGO_MAX_SMOOTH
    ):
        return "logo"
    return None


def _text(ink: Bools) -> tuple[float, int]:
    """The share of ink in letter-sized pieces, and how many such pieces there are."""
    count, _labels, boxes, _centres = cv2.connectedComponentsWithStats(
        ink.astype(np.uint8), connectivity=8
    )
    heights = boxes[1:, cv2.CC_STAT_HEIGHT]
    areas = boxes[1:, cv2.CC_STAT_AREA]
    fill = areas / (heights * boxes[1:, cv2.CC_STAT_WIDTH])
    low, high = GLYPH_HEIGHTS
    glyph = (heights >= low) & (heights <= high) & (areas >= 4) & (fill < GLYPH_MAX_FILL)
    # Solid pieces longer than any glyph are a screen's bars, buttons and highlighted rows
    # (often with type inside them, which the piece swallows): not type, and not ink to weigh
    # type against either.
    bar = (fill >= GLYPH_MAX_FILL) & (np.maximum(heights, boxes[1:, cv2.CC_STAT_WIDTH]) > high)
    weighed = float(areas[~bar].sum())
    return float(areas[glyph].sum()) / max(weighed, 1.0), int(glyph.sum())


def _panels(codes: Codes, exactly_flat: Bools) -> int:
    """How many colours (`colour_codes`) each fill PANEL_MIN_SHARE of the picture with
    exactly flat pixels."""
    counts = np.bincount(codes[exactly_flat], minlength=1 << 15)
    return int((counts >= PANEL_MIN_SHARE * codes.size).sum())


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
