"""The `read` feature: printed and on-screen text (OCR) with the PP-OCR models inside the rapidocr
wheel: a DB text-line detector, a 0/180 degree line classifier and a CTC line recogniser.

    {"model": {"name": "pp-ocr", "version": "1"}, "width": 1200, "height": 1000,
     "orientation": {"angle": 0, "confidence": 1.0},
     "text": "ACME MUTUAL INSURANCE\\nVehicle Claim Form\\nPolicy Number:\\nPOL-2024-118734\\n...",
     "lines": [{"text": "Policy Number:", "confidence": 0.9825,
                "polygon": [{"x": 74, "y": 192}, {"x": 281, "y": 192}, {"x": 281, "y": 230},
                            {"x": 74, "y": 230}],
                "box": {"x": 74, "y": 192, "w": 207, "h": 38},
                "words": [{"text": "Policy", "confidence": 1.0, "polygon": [...]},
                          {"text": "Number:", "confidence": 0.9652, "polygon": [...]}]},
               ...]}

- Coordinates are pixels of `picture.rgb`, also when the text was read on a turned copy.
- `orientation.angle` is how far the text is turned clockwise from upright: 0, 90, 180 or 270
  (a page photographed sideways reads 90 or 270). Turning the picture counter-clockwise by
  `angle` makes it upright. `confidence` is 0 when no text was found.
- Every polygon has 4 points, clockwise from the text's own top-left corner as read: on a page
  turned by 90 degrees the first point is the line's top-right corner in pixel terms.
- `lines` are in reading order in the upright page: rows of lines (lines overlapping
  vertically) from top to bottom, left to right within a row; `text` joins them with newlines.
- Lines the recogniser is unsure of are dropped (`MIN_LINE_CONFIDENCE`, higher for one or two
  characters), so photos without text give no lines.
- `words` split each line at whitespace; their confidence is the mean of their characters'.
  Where the recogniser ran two words together, a gap in the line's ink between the two
  characters (placed by their CTC columns) of at least `SPACE_GAP` of the line's height puts the
  space back ("09/13/2024Date" -> "09/13/2024 Date"). On 20 held-out pages (5 DejaVu faces at 2
  sizes, clean and as noisy, skewed JPEG scans, two fields a row) word recall went from 0.970
  to 0.994 and key fields found from 114 to 120 of 120, with no word split apart.

Nothing is downloaded: rapidocr fetches models and fonts from the internet when a path is not
given, so every model file is named explicitly and its drawing code (which downloads fonts) is
never called.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from omegaconf import flag_override
from rapidocr.utils.process_img import (
    apply_vertical_padding,
    get_rotate_crop_image,
    map_boxes_to_original,
    resize_image_within_bounds,
)

from sightline.errors import SkipFeature
from sightline.indexing import IndexEntries
from sightline.models import Models, ModelUnavailable
from sightline.models.runtime import SessionFactory
from sightline.vision import geometry
from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultPart,
    analyzer_version,
)
from sightline.vision.pixels import rgb_array

if TYPE_CHECKING:
    from rapidocr.ch_ppocr_rec.typings import WordInfo

MODEL = "pp-ocr"
# 3: the detector's first look; 4: the full look sized from it, a long strip's first look longer
ALGORITHM_VERSION = "4"
# The detector's input (longest side): ~0.5 s per page instead of ~2 s at rapidocr's default.
DEFAULT_MAX_SIDE = 960
# Text-free photos should not pay for the full-size detector: a first look at this size (a
# quarter of the pixels of a 640-px picture, a ninth of a 960-px one) that finds no text line
# ends the search. Measured on 19 text-free scikit-image photos and 17 pages and screens
# (claim forms upright, turned and scanned, memo, receipts, invoice, HUD, app and web
# screenshots, paired fields): the first look found lines on every page and screen; it found
# none on 13 of the photos (astronaut, chelsea, rocket, camera, grass, gravel, brick, moon,
# hubble_deep_field, cat, checkerboard, cell, stereo_motorcycle), on none of which the full size
# reads a legible line either. The price: text under ~10 px tall at the full size, on a picture
# with no larger text, is not looked for.
DEFAULT_FIRST_LOOK_SIDE = 320
# The first look is skipped where the full size is not much larger: it would save too little.
FIRST_LOOK_GAIN = 1.5
# A first look's short side is never under this (three of the detector's 32-px strides).
FIRST_LOOK_MIN_SHORT_SIDE = 96
# When the first look finds lines, the full look needs no more pixels than make the thinnest of
# them this tall (its box, in the detector's input), and no fewer than FIRST_LOOK_GAIN times the
# first look's. Measured on the quality benchmark's 18 claim-form pages (1240x1754, clean,
# noisy, skewed, turned), the 8 text-free photos and bench/models.py's pictures: at 24 every
# text is the same as at the full 960 (polygons within 3 px), in 14 % less CPU over the pages;
# at 16 the bench document's "POL-2024-118734" read as "POL-2024-1 18734". Text much thinner
# than the thinnest line the first look found may be missed (see DEFAULT_FIRST_LOOK_SIDE).
LINE_HEIGHT = 24
MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}
# rapidocr's own defaults: lines are cut from a copy whose sides are kept within 30..2000 pixels,
# and very wide strips are padded to at most 8:1 for the detector.
MIN_WORKING_SIDE, MAX_WORKING_SIDE = 30, 2000
# Shrunk to fit MAX_WORKING_SIDE, a picture's short side is rounded to a multiple of 32 pixels:
# under 17 it rounds to nothing (a 20000x1 strip), and no line of text fits in it anyway. (Small
# pictures are enlarged instead, which always works.)
MIN_FITTED_SIDE = 17
MAX_STRIP_RATIO = 8
# A line is kept when the recogniser's mean character confidence reaches this floor, higher for
# lines of at most SHORT_LINE characters. Measured with no floor on 45 views of 15 text-free
# scikit-image photos (astronaut, coffee, chelsea, rocket, camera, coins, grass, gravel, brick,
# moon, immunohistochemistry, hubble_deep_field, retina, cat, colorwheel; each at 0.5, 1 and 1.6
# times its size): 21 lines on 15 views, mostly "0", "O" or "8"; short ones at most 0.921 (an
# "8" in coffee), longer ones at most 0.796 ("000000" in coins). On 50 pages and screens (the
# rendered documents, paired-field pages in 4 faces, clean and as noisy JPEG scans, app and web
# screenshots, a game HUD; 851 lines) the lowest were 0.9958 for single digits (an invoice's
# quantities) and 0.921 for longer text; below that only a window's three title-bar dots
# ("● ● ●", 0.68-0.71), which are not text. (rapidocr's default floor is 0.5.) The detector's
# box score does not separate them (0.51-0.83 on the photos, 0.59-0.92 on pages). Held out: 33
# other text-free views (clock, cell, microaneurysms, checkerboard and more from scikit-image;
# nine photos turned, cropped or saved as JPEG 40) gave 9 lines on 8 views at rapidocr's floor,
# none with these; the price: "YAMAHA" on stereo_motorcycle's tank (0.81) is dropped too.
MIN_LINE_CONFIDENCE = 0.86
MIN_SHORT_LINE_CONFIDENCE = 0.97
SHORT_LINE = 2
# rapidocr stands a cut-out line on its side when it is this much taller than wide.
TURNED_RATIO = 1.5
# A line is read turned over when the classifier is this sure it is upside down (rapidocr's
# Cls.cls_thresh).
FLIP_CONFIDENCE = 0.9
# The classifier squeezes lines to its 4:1 input: long ones are judged by up to this many
# windows of that shape along them.
CLASSIFIER_WINDOWS = 3
# The classifier's page vote decides alone when at least this many lines agree this much;
# otherwise the longest lines are read both ways up and the recogniser's confidence decides.
DECISIVE_VOTERS, DECISIVE_AGREEMENT = 3, 0.9
READING_SAMPLE = 6  # lines: one recogniser batch
# Lines whose vertical extents overlap by this share of the shorter one form one row.
ROW_OVERLAP = 0.5
# The recogniser drops some spaces on noisy pages ("09/13/2024Date"). Between two neighbouring
# characters (placed by their CTC columns) a run of ink-free columns this wide, as a share of
# the cut-out line's height, is a space. Measured on 18 rendered pages (6 documents, clean and
# two noisy, skewed JPEG scans each; 3809 character pairs): spaces the recogniser kept are
# 0.20-0.33 wide (median 0.33), the ones it dropped 0.32-0.48, gaps inside words at most 0.26
# (the widest in a monospaced font: the sides of "t", "r", ":" and "."), median 0.09.
SPACE_GAP = 0.29
# A column of a cut-out line holds ink when this share of its pixels are ink (Otsu's threshold,
# ink the minority side): specks of JPEG noise are not.
INKED_COLUMN = 0.04

Image = npt.NDArray[np.uint8]
Quads = npt.NDArray[np.float32]  # (n, 4, 2) pixel corners


class TextOrientation(ResultPart):
    angle: int
    confidence: float


class Word(ResultPart):
    text: str
    confidence: float
    polygon: list[geometry.Point]


class TextLine(ResultPart):
    text: str
    confidence: float
    polygon: list[geometry.Point]
    box: geometry.Box
    words: list[Word]


class ReadResult(geometry.ModelResult):
    orientation: TextOrientation
    text: str
    lines: list[TextLine]

    def index_entries(self) -> IndexEntries:
        return IndexEntries(text=[line.text for line in self.lines])


class ReadAnalyzer(Independent):
    """OCR: text lines and words with polygons, in reading order, on pages in any of the four
    right-angle orientations. `max_side` is the detector's input size (longest side);
    `first_look_side` the size of a first, cheap look for any text (0: none)."""

    name = "read"
    result_model = ReadResult

    def __init__(
        self,
        models: Models,
        max_side: int = DEFAULT_MAX_SIDE,
        first_look_side: int = DEFAULT_FIRST_LOOK_SIDE,
    ) -> None:
        self.max_side = max_side
        self.first_look_side = first_look_side
        int8 = models.int8(MODEL)
        self.model_version = models.registry.get(MODEL).version
        self.version = analyzer_version(
            ALGORITHM_VERSION,
            self.model_version + ("-int8" if int8 else ""),
            (max_side, first_look_side),
            (DEFAULT_MAX_SIDE, DEFAULT_FIRST_LOOK_SIDE),
        )
        self._engine = models.load(
            MODEL,
            lambda path: PPOCR(path, models.session, models.registry.path(int8) if int8 else None),
            key=f"{MODEL}:int8" if int8 else MODEL,
        )

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        width, height = picture.rgb.size
        longest = max(width, height)
        fitted = int(min(width, height) * MAX_WORKING_SIDE / longest)
        if longest > MAX_WORKING_SIDE and fitted < MIN_FITTED_SIDE:
            raise SkipFeature(
                f"The picture is {width}x{height}: fitted into the text detector's "
                f"{MAX_WORKING_SIDE} pixels, its short side is {fitted}, too thin to hold a line "
                "of text."
            )
        return Analysis(self._read(picture))

    def _read(self, picture: Picture) -> ReadResult:
        width, height = picture.rgb.size
        # BGR: PP-OCR was trained on images read by OpenCV.
        image = np.asarray(cv2.cvtColor(rgb_array(picture), cv2.COLOR_RGB2BGR), np.uint8)
        with self._engine.acquire() as engine:
            view = View.detect(engine, image, self.max_side, self.first_look_side)
            orientation = view.orientation(engine)
            if orientation.angle and view.holds_no_text():
                lines = []
            else:
                if orientation.angle:
                    turns = orientation.angle // 90
                    upright = np.ascontiguousarray(np.rot90(image, turns), np.uint8)
                    view = View.detect(engine, upright, self.max_side)
                lines = view.read(engine)
        ordered = reading_order(lines)
        if not ordered:
            orientation = Orientation(0, 0.0)
        turns = orientation.angle // 90
        return ReadResult(
            **geometry.header(picture, MODEL, self.model_version),
            orientation=TextOrientation(
                angle=orientation.angle, confidence=geometry.confidence(orientation.confidence)
            ),
            text="\n".join(line.reading.text for line in ordered),
            lines=[text_line(line, view, turns, width, height) for line in ordered],
        )


class PPOCR:
    """rapidocr's three models, loaded from the files in the wheel into sessions opened by
    `open_session`, so they get Sightline's thread and execution-provider settings rather than
    rapidocr's. `first_look` is the detector used for the first look (its int8 copy) when given.

    Only the first look runs int8: the int8 detector at full size drew one box round a whole
    text-free photo of a cup, read as "8" (0.99), where the original found nothing, and keeping
    its last eight layers in float to avoid that also kept most of its cost. At the first look,
    a false box only costs the full-size look the original would have taken anyway."""

    def __init__(
        self, model_dir: Path, open_session: SessionFactory, first_look: Path | None = None
    ) -> None:
        missing = [name for name in MODEL_FILES.values() if not (model_dir / name).is_file()]
        if missing:
            raise ModelUnavailable(
                f"rapidocr's model files are missing ({', '.join(missing)}); "
                "reinstall it: pip install --force-reinstall rapidocr==3.10.0"
            )
        from rapidocr import RapidOCR  # ~0.6 s to import: paid when the model loads

        params: dict[str, Any] = {
            f"{stage}.model_path": str(model_dir / name) for stage, name in MODEL_FILES.items()
        }
        params["Global.log_level"] = "warning"
        engine = RapidOCR(params=params)
        hand_logging_to_root()
        files = {stage: model_dir / name for stage, name in MODEL_FILES.items()}
        # rapidocr takes a ready session from a stage's config (which only holds plain values
        # unless told otherwise). It loads each model on first use; loading all three now
        # makes a broken install fail here and keeps the first picture from paying for it.
        with flag_override(engine.cfg, "allow_objects", True):
            for stage, path in files.items():
                engine.cfg[stage].session = open_session(path)
            self.detector: Any = engine._load_det_model()  # type: ignore[no-untyped-call]
            self.classifier: Any = engine._load_cls_model()  # type: ignore[no-untyped-call]
            self.recognizer: Any = engine._load_rec_model()  # type: ignore[no-untyped-call]
        self.first_look = self.detector.session.session
        if first_look is not None:
            self.first_look = open_session(first_look)

    def detect(self, image: Image, max_side: int, first_look_side: int = 0) -> Quads:
        """Text-line quadrilaterals, clockwise from the top-left, in `image` pixels. Runs the
        detector's parts here rather than its `__call__`, which would fix `max_side` per
        process (analyzers with different sizes share this one loaded model). A first look at
        `first_look_side` that finds nothing gives nothing, where the full size is at least
        `FIRST_LOOK_GAIN` times larger."""
        full_side = min(max_side, max(image.shape[:2]))
        look_side = first_look_for(image, first_look_side)
        if 0 < look_side * FIRST_LOOK_GAIN <= full_side:
            found = self._detect(image, look_side, self.first_look)
            if not len(found):
                return np.zeros((0, 4, 2), np.float32)
            max_side = sized_for(found, image, look_side, full_side)
        return self._detect(image, max_side, self.detector.session.session)

    def _detect(self, image: Image, max_side: int, session: ort.InferenceSession) -> Quads:
        tensor = detector_input(image, max_side, self.detector.mean, self.detector.std)
        if tensor is None:
            return np.zeros((0, 4, 2), np.float32)
        (prediction,) = session.run(None, {session.get_inputs()[0].name: tensor})
        quads, _scores = self.detector.postprocess_op(prediction, image.shape[:2])
        return np.asarray(quads, np.float32).reshape(-1, 4, 2)

    def classify(self, crops: list[Image]) -> list[float]:
        """Each crop's probability of being upside down. The classifier squeezes its input to
        4:1, which garbles long lines (a 34:1 banner came out upside down with 0.96), so a long
        crop is judged by windows of that shape along it, averaged."""
        _channels, height, width = self.classifier.cls_image_shape
        windows, owners = [], []
        for index, crop in enumerate(crops):
            for window in classifier_windows(crop, width / height):
                windows.append(window)
                owners.append(index)
        result = self.classifier(windows)
        upside_down = [
            float(score) if label == "180" else 1.0 - float(score)
            for label, score in result.cls_res
        ]
        totals = np.bincount(owners, weights=upside_down, minlength=len(crops))
        counts = np.bincount(owners, minlength=len(crops))
        return [float(total / count) for total, count in zip(totals, counts, strict=True)]

    def recognize(self, crops: list[Image]) -> list[Reading]:
        from rapidocr.ch_ppocr_rec import TextRecInput

        result = self.recognizer(TextRecInput(img=crops, return_word_box=True))
        return [
            Reading.of(text, float(score), info)
            for text, score, info in zip(
                result.txts, result.scores, result.word_results, strict=True
            )
        ]


def hand_logging_to_root() -> None:
    """rapidocr logs through its own coloured stderr handler and does not propagate; pass its
    warnings and errors to the application's handlers instead."""
    rapid = logging.getLogger("RapidOCR")
    for handler in list(rapid.handlers):
        rapid.removeHandler(handler)
    rapid.propagate = True


def first_look_for(image: Image, first_look_side: int) -> int:
    """The first look's longest side: `first_look_side`, or more for a long strip, whose short
    side would otherwise shrink to a few pixels (a 2400x60 banner to 320x8: nothing left to
    see, the detector's input rounding it to 0) while its full look costs few pixels anyway.
    Pictures up to about 3:1 (photos, screens, pages) keep the measured first look."""
    if not first_look_side:  # none asked for
        return 0
    height, width = (int(side) for side in image.shape[:2])
    stretched = math.ceil(max(height, width) * FIRST_LOOK_MIN_SHORT_SIDE / min(height, width))
    return max(first_look_side, stretched)


def sized_for(found: Quads, image: Image, first_look_side: int, full_side: int) -> int:
    """The detector's side at which the thinnest line the first look found is
    `LINE_HEIGHT` pixels tall, within `FIRST_LOOK_GAIN` times the first look and `full_side`."""
    short_sides = np.minimum(
        np.linalg.norm(found[:, 1] - found[:, 0], axis=1),
        np.linalg.norm(found[:, 3] - found[:, 0], axis=1),
    )
    wanted = max(image.shape[:2]) * LINE_HEIGHT / max(float(short_sides.min()), 1.0)
    return int(min(max(wanted, first_look_side * FIRST_LOOK_GAIN), full_side))


def detector_input(
    image: Image, max_side: int, mean: Any, std: Any
) -> npt.NDArray[np.float32] | None:
    """The detector's NCHW tensor: longest side at most `max_side`, both sides multiples of 32."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (round(width * scale / 32) * 32, round(height * scale / 32) * 32)
    if min(size) <= 0:
        return None
    resized = cv2.resize(image, size).astype(np.float32) / 255.0
    normalized = (resized - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return normalized.transpose(2, 0, 1)[np.newaxis].astype(np.float32)


def classifier_windows(crop: Image, ratio: float) -> list[Image]:
    height, width = crop.shape[:2]
    window = max(int(ratio * height), 1)
    count = min(CLASSIFIER_WINDOWS, math.ceil(width / window))
    if count <= 1:
        return [crop]
    starts = np.linspace(0, width - window, count).round().astype(int)
    return [crop[:, start : start + window] for start in starts]


@dataclass(frozen=True)
class Reading:
    """One recognised line: its text and confidence, and for each non-space character its
    centre as a fraction of the line's width and its confidence."""

    text: str
    confidence: float
    centres: list[float]
    pitch: float  # the distance between neighbouring characters, as a fraction of the width
    char_confidences: list[float]
    located: bool = True  # centres from the recogniser's columns, not spread evenly

    @classmethod
    def of(cls, text: str, confidence: float, info: WordInfo) -> Reading:
        """Character positions from the recogniser's CTC columns. Measured on rendered text, a
        character's column sits at its centre (not half a column later). rapidocr's own word
        grouping also splits words at wide letter gaps, so only its columns are used."""
        chars = [i for i, char in enumerate(text) if not char.isspace()]
        columns = [column for word in info.word_cols for column in word]
        confidences = [float(info.confs[i]) for i in chars] if len(info.confs) == len(text) else []
        if len(columns) == len(chars) and chars and info.line_txt_len > 0:
            span = float(info.line_txt_len)
            steps = [b - a for a, b in zip(columns, columns[1:], strict=False) if b > a]
            pitch = float(np.median(steps)) / span if steps else 1.0 / len(text)
            centres = [column / span for column in columns]
        else:
            # No usable columns: place characters evenly along the line.
            pitch = 1.0 / max(len(text), 1)
            centres = [(i + 0.5) * pitch for i in chars]
            return cls(
                text, confidence, centres, pitch, confidences or [confidence] * len(chars), False
            )
        return cls(text, confidence, centres, pitch, confidences or [confidence] * len(chars))

    def spaced(self, crop: Image) -> Reading:
        """The reading with a space wherever the cut-out line `crop` shows a gap of at least
        `SPACE_GAP` of its height between two characters the recogniser ran together."""
        chars = [i for i, char in enumerate(self.text) if not char.isspace()]
        if not self.located or len(chars) < 2:
            return self
        height, width = crop.shape[:2]
        blank = ~inked_columns(crop)
        before = {
            chars[k + 1]
            for k in range(len(chars) - 1)
            if chars[k + 1] == chars[k] + 1
            and longest_run(
                blank[math.ceil(self.centres[k] * width) : int(self.centres[k + 1] * width)]
            )
            >= SPACE_GAP * height
        }
        if not before:
            return self
        text = "".join(" " + char if i in before else char for i, char in enumerate(self.text))
        return replace(self, text=text)

    def words(self) -> list[tuple[str, float, float, float]]:
        """(text, confidence, start, end) per whitespace-separated word, start and end as
        fractions of the line's width."""
        result = []
        first = 0
        for word in self.text.split():
            last = first + len(word) - 1
            start = max(self.centres[first] - self.pitch / 2, 0.0)
            end = min(self.centres[last] + self.pitch / 2, 1.0)
            confidence = float(np.mean(self.char_confidences[first : last + 1]))
            result.append((word, confidence, start, end))
            first = last + 1
        return result


@dataclass(frozen=True)
class Orientation:
    angle: int
    confidence: float


@dataclass
class Line:
    quad: Quads  # (4, 2) working pixels, clockwise from the text's top-left as read
    reading: Reading


@dataclass
class View:
    """The text lines found in one view of the picture: the picture as given, or turned
    upright. Work happens on a resized, possibly padded copy (`record` maps back)."""

    image: Image
    record: dict[str, Any]
    quads: Quads  # as detected, in working pixels
    crops: list[Image]  # each line cut out straight (stood up if it was on its side)
    turned: list[bool]  # cut out on its side and stood up (rapidocr's rule)
    upside_down: list[float]  # the classifier's probability, for the crop as stood up
    # Lines the orientation vote read both ways up: (as cut, turned over), so no crop is
    # given to the recogniser twice.
    readings: dict[int, tuple[Reading, Reading]] = field(default_factory=dict)

    @classmethod
    def detect(cls, engine: PPOCR, image: Image, max_side: int, first_look_side: int = 0) -> View:
        resized, ratio_h, ratio_w = resize_image_within_bounds(
            image, MIN_WORKING_SIDE, MAX_WORKING_SIDE
        )
        record: dict[str, Any] = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
        working, record = apply_vertical_padding(resized, record, MAX_STRIP_RATIO, MIN_WORKING_SIDE)
        quads = engine.detect(working, max_side, first_look_side)
        crops = [get_rotate_crop_image(working, quad.copy()) for quad in quads]
        return cls(
            image=image,
            record=record,
            quads=quads,
            crops=crops,
            turned=[stands_up(quad) for quad in quads],
            upside_down=engine.classify(crops) if crops else [],
        )

    def orientation(self, engine: PPOCR) -> Orientation:
        """Which way the page is turned, by a vote weighted by line length: most text standing
        on its side means 90 or 270; the classifier's verdicts on those lines (as stood up)
        say which of the two, or whether an unturned page is upside down. `confidence` is the
        share of text along the winning axis times the share of the vote for the direction."""
        if not len(self.quads):
            return Orientation(0, 0.0)
        weights = np.array([long_side(quad) for quad in self.quads])
        turned = np.array(self.turned)
        sideways = bool(weights[turned].sum() > weights[~turned].sum())
        voters = np.flatnonzero(turned == sideways)
        axis_share = float(weights[voters].sum() / weights.sum())
        upside_down = float(np.average(np.array(self.upside_down)[voters], weights=weights[voters]))
        agreement = max(upside_down, 1.0 - upside_down)
        if len(voters) < DECISIVE_VOTERS or agreement < DECISIVE_AGREEMENT:
            upside_down = self.upside_down_by_reading(engine, voters, weights)
            agreement = max(upside_down, 1.0 - upside_down)
        angle = (90 if sideways else 0) + (180 if upside_down > 0.5 else 0)
        return Orientation(angle, axis_share * agreement)

    def upside_down_by_reading(
        self, engine: PPOCR, voters: npt.NDArray[np.intp], weights: npt.NDArray[np.float64]
    ) -> float:
        """Read the longest lines as they are and turned over: the recogniser is much less
        sure of upside-down text. 0.5 plus half the difference in mean confidence, so text
        legible only turned over gives 1 and equally (il)legible text gives 0.5."""
        sample = voters[np.argsort(-weights[voters])][:READING_SAMPLE]
        crops = [self.crops[index] for index in sample]
        both = engine.recognize(crops + [turned_over(crop) for crop in crops])
        as_cut, over = both[: len(crops)], both[len(crops) :]
        self.readings.update(zip(sample.tolist(), zip(as_cut, over, strict=True), strict=True))
        margin = np.average(
            [b.confidence - a.confidence for a, b in zip(as_cut, over, strict=True)],
            weights=weights[sample],
        )
        return float(0.5 + margin / 2)

    def holds_no_text(self) -> bool:
        """Every line was read both ways up and none was legible either way: turning the
        picture would not make text of them, so it need not be looked at again."""
        return len(self.readings) == len(self.crops) and not any(
            legible(reading) for pair in self.readings.values() for reading in pair
        )

    def read(self, engine: PPOCR) -> list[Line]:
        """Recognise every line, turning over those the classifier is sure are upside down."""
        flipped = [probability > FLIP_CONFIDENCE for probability in self.upside_down]
        crops = [
            turned_over(crop) if flip else crop
            for crop, flip in zip(self.crops, flipped, strict=True)
        ]
        readings = {
            index: self.readings[index][1 if flip else 0]
            for index, flip in enumerate(flipped)
            if index in self.readings
        }
        unread = [index for index in range(len(crops)) if index not in readings]
        if unread:
            fresh = engine.recognize([crops[index] for index in unread])
            readings.update(zip(unread, fresh, strict=True))
        lines = []
        for index in range(len(crops)):
            reading = readings[index]
            if not legible(reading):
                continue
            # The crop's top-left as read is another corner when rapidocr stood it up (its
            # top-right, a quarter turn) or it was turned over (a half turn).
            shift = (1 if self.turned[index] else 0) + (2 if flipped[index] else 0)
            lines.append(
                Line(np.roll(self.quads[index], -shift, axis=0), reading.spaced(crops[index]))
            )
        return lines

    def to_picture(self, points: Quads, turns: int, width: int, height: int) -> Quads:
        """Working pixels of this view -> pixels of the picture, which this view shows turned
        counter-clockwise by `turns` quarter turns."""
        view_height, view_width = self.image.shape[:2]
        mapped = map_boxes_to_original(points.copy(), self.record, view_height, view_width)
        return unturn(np.asarray(mapped, np.float32), turns, width, height)


def stands_up(quad: Quads) -> bool:
    """rapidocr's own rule (get_rotate_crop_image) for standing a cut-out line up."""
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    return width > 0 and height / width >= TURNED_RATIO


def legible(reading: Reading) -> bool:
    """Whether a recognised line is text rather than a pattern read as letters."""
    length = len(reading.text.replace(" ", ""))
    floor = MIN_SHORT_LINE_CONFIDENCE if length <= SHORT_LINE else MIN_LINE_CONFIDENCE
    return length > 0 and reading.confidence >= floor


def inked_columns(crop: Image) -> npt.NDArray[np.bool_]:
    """Which columns of a cut-out line hold ink: dark text on light or light on dark, split by
    Otsu's threshold with the smaller side taken as ink."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    _threshold, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = binary > 0
    if ink.mean() > 0.5:
        ink = ~ink
    inked: npt.NDArray[np.bool_] = ink.sum(axis=0) >= max(1, round(INKED_COLUMN * crop.shape[0]))
    return inked


def longest_run(flags: npt.NDArray[np.bool_]) -> int:
    """The length of the longest run of True."""
    if not flags.any():
        return 0
    padded = np.concatenate([[0], flags.astype(np.int8), [0]])
    changes = np.flatnonzero(np.diff(padded))
    return int((changes[1::2] - changes[::2]).max())


def turned_over(image: Image) -> Image:
    return np.ascontiguousarray(image[::-1, ::-1])


def long_side(quad: Quads) -> float:
    return float(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[0] - quad[3])))


def unturn(points: Quads, turns: int, width: int, height: int) -> Quads:
    """Undo `np.rot90(image, turns)` (counter-clockwise quarter turns) on pixel coordinates of
    an image that was `width` x `height` before turning."""
    for step in reversed(range(turns)):
        source_width = width if step % 2 == 0 else height
        points = np.stack([source_width - points[..., 1], points[..., 0]], axis=-1)
    return points


def reading_order(lines: list[Line]) -> list[Line]:
    """Rows top to bottom, left to right within a row, in the view's frame straightened by the
    lines' median slant (so a page photographed askew does not merge its rows)."""
    if not lines:
        return []
    edges = [line.quad[1] - line.quad[0] for line in lines]
    slant = float(np.median([math.atan2(dy, dx) for dx, dy in edges]))
    cos, sin = math.cos(-slant), math.sin(-slant)
    straighten = np.array([[cos, sin], [-sin, cos]], np.float32)
    extents = []
    for line in lines:
        points = line.quad @ straighten
        extents.append((points[:, 1].min(), points[:, 1].max(), points[:, 0].min()))
    rows: list[list[int]] = []
    bounds: list[tuple[float, float]] = []
    for index in sorted(range(len(lines)), key=lambda i: extents[i][0] + extents[i][1]):
        top, bottom, _left = extents[index]
        if rows and overlaps(bounds[-1], (top, bottom)):
            rows[-1].append(index)
            bounds[-1] = (min(bounds[-1][0], top), max(bounds[-1][1], bottom))
        else:
            rows.append([index])
            bounds.append((top, bottom))
    return [lines[i] for row in rows for i in sorted(row, key=lambda i: extents[i][2])]


def overlaps(row: tuple[float, float], line: tuple[float, float]) -> bool:
    shared = min(row[1], line[1]) - max(row[0], line[0])
    shorter = min(row[1] - row[0], line[1] - line[0])
    return shorter > 0 and shared >= ROW_OVERLAP * shorter


def text_line(line: Line, view: View, turns: int, width: int, height: int) -> TextLine:
    words = line.reading.words()
    p0, p1, p2, p3 = line.quad
    word_quads = [
        [p0 + start * (p1 - p0), p0 + end * (p1 - p0), p3 + end * (p2 - p3), p3 + start * (p2 - p3)]
        for _text, _confidence, start, end in words
    ]
    quads = np.asarray([line.quad, *word_quads], np.float32).reshape(-1, 4, 2)
    mapped = view.to_picture(quads, turns, width, height)
    xs, ys = mapped[0, :, 0], mapped[0, :, 1]
    return TextLine(
        text=line.reading.text,
        confidence=geometry.confidence(line.reading.confidence),
        polygon=polygon(mapped[0], width, height),
        box=geometry.box(xs.min(), ys.min(), xs.max(), ys.max(), width, height),
        words=[
            Word(
                text=text,
                confidence=geometry.confidence(confidence),
                polygon=polygon(quad, width, height),
            )
            for (text, confidence, _start, _end), quad in zip(words, mapped[1:], strict=True)
        ],
    )


def polygon(quad: Quads, width: int, height: int) -> list[geometry.Point]:
    return geometry.polygon([(float(x), float(y)) for x, y in quad], width, height)
