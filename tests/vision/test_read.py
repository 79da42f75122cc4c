"""The `read` feature with the real PP-OCR models, on documents rendered in code.

One analyzer (one loaded engine) serves the whole module and each document is read once.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw
from rapidocr.ch_ppocr_rec.typings import WordInfo
from rapidocr.utils.download_file import DownloadFile
from skimage import data

from sightline.models import Models, ModelUnavailable
from sightline.vision import decode
from sightline.vision.base import JSON
from sightline.vision.read import MODEL, PPOCR, ReadAnalyzer, Reading
from support.analysis import result_of
from support.documents import (
    POLICY_NUMBER,
    Document,
    blank,
    claim_form,
    dated_claim_form,
    font,
    hud_screenshot,
    memo,
    paired_fields,
    scanned,
    word_recall,
    words,
)
from support.imagegen import encode

Read = Callable[[Image.Image], JSON]
FORM = claim_form()
ASKEW_FORM = FORM.rotated(12)
EDGE_TOLERANCE = 2  # pixels: polygons are rounded and clipped independently


@pytest.fixture(scope="module")
def read(models: Models) -> Read:
    """Read an image once per module; repeated calls with the same image reuse the result."""
    analyzer = ReadAnalyzer(models)
    # Keyed by identity; holding the image keeps its id from being reused by another.
    results: dict[int, tuple[Image.Image, JSON]] = {}

    def run(image: Image.Image) -> JSON:
        if id(image) not in results:
            encoded = encode(image, "PNG")
            picture = decode(encoded, max_bytes=len(encoded), max_pixels=image.width * image.height)
            result = result_of(analyzer, picture)
            json.dumps(result, allow_nan=False)
            results[id(image)] = (image, result)
        return results[id(image)][1]

    return run


@pytest.fixture(scope="module")
def turned_forms() -> dict[int, Document]:
    return {angle: FORM.rotated(angle) for angle in (90, 180, 270)}


def all_words(result: JSON) -> list[str]:
    return [word["text"] for line in result["lines"] for word in line["words"]]


def test_result_shape(read: Read) -> None:
    result = read(FORM.image)
    assert result["model"] == {"name": MODEL, "version": "1"}
    assert (result["width"], result["height"]) == FORM.image.size
    assert result["orientation"]["angle"] == 0
    assert result["orientation"]["confidence"] > 0.9
    assert result["text"] == "\n".join(line["text"] for line in result["lines"])
    for line in result["lines"]:
        assert set(line) == {"text", "confidence", "polygon", "box", "words"}
        assert 0.5 <= line["confidence"] <= 1
        assert len(line["polygon"]) == 4
        assert " ".join(word["text"] for word in line["words"]) == " ".join(line["text"].split())
        for word in line["words"]:
            assert set(word) == {"text", "confidence", "polygon"}
            assert 0 <= word["confidence"] <= 1


def test_claim_form_is_read(read: Read) -> None:
    result = read(FORM.image)
    assert word_recall(FORM.words, words(result["text"])) >= 0.95
    assert POLICY_NUMBER in all_words(result)


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_turned_form_is_read_and_its_orientation_found(
    read: Read, turned_forms: dict[int, Document], angle: int
) -> None:
    result = read(turned_forms[angle].image)
    assert result["orientation"]["angle"] == angle
    assert result["orientation"]["confidence"] > 0.9
    assert word_recall(FORM.words, words(result["text"])) >= 0.9
    assert POLICY_NUMBER in all_words(result)
    # Reading order is the upright page's, whichever way the picture is turned.
    assert SequenceMatcher(None, FORM.words, words(result["text"])).ratio() >= 0.9


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_turned_form_polygons_are_in_the_pictures_own_pixels(
    read: Read, turned_forms: dict[int, Document], angle: int
) -> None:
    upright = {line["text"]: line for line in read(FORM.image)["lines"]}
    turned = read(turned_forms[angle].image)["lines"]
    matched = [(upright[line["text"]], line) for line in turned if line["text"] in upright]
    assert len(matched) >= 0.9 * len(upright)
    for before, after in matched:
        corners = [FORM.turned_point(p["x"], p["y"], angle) for p in before["polygon"]]
        # The first point stays the text's own top-left corner as read.
        assert np.allclose(corners, [(p["x"], p["y"]) for p in after["polygon"]], atol=8)


@pytest.mark.parametrize("angle", [0, 90, 180])
def test_polygons_lie_inside_the_picture_and_words_inside_their_line(
    read: Read, turned_forms: dict[int, Document], angle: int
) -> None:
    image = turned_forms[angle].image if angle else FORM.image
    result = read(image)
    width, height = image.size
    assert result["lines"]
    for line in result["lines"]:
        box = line["box"]
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["w"] <= width and box["y"] + box["h"] <= height
        assert_inside(line["polygon"], box, 0)
        for word in line["words"]:
            assert_inside(word["polygon"], box, EDGE_TOLERANCE)


def assert_inside(points: list[JSON], box: JSON, tolerance: int) -> None:
    for point in points:
        assert box["x"] - tolerance <= point["x"] <= box["x"] + box["w"] + tolerance
        assert box["y"] - tolerance <= point["y"] <= box["y"] + box["h"] + tolerance


def test_word_polygons_follow_the_text(read: Read) -> None:
    """Words run left to right along their line and do not overlap much."""
    for line in read(FORM.image)["lines"]:
        lefts = [min(p["x"] for p in word["polygon"]) for word in line["words"]]
        rights = [max(p["x"] for p in word["polygon"]) for word in line["words"]]
        assert lefts == sorted(lefts)
        assert all(right <= left + 6 for right, left in zip(rights, lefts[1:], strict=False))


def test_reading_order_is_top_to_bottom(read: Read) -> None:
    document = memo()
    result = read(document.image)
    tops = [line["box"]["y"] for line in result["lines"]]
    assert tops == sorted(tops)
    assert SequenceMatcher(None, document.words, words(result["text"])).ratio() >= 0.95


def test_labels_and_values_on_one_row_read_left_to_right(read: Read) -> None:
    texts = [line["text"] for line in read(FORM.image)["lines"]]
    assert texts.index(POLICY_NUMBER) == texts.index("Policy Number:") + 1


def test_askew_page_keeps_its_rows(read: Read) -> None:
    result = read(ASKEW_FORM.image)
    assert result["orientation"]["angle"] == 0
    assert word_recall(FORM.words, words(result["text"])) >= 0.9
    assert SequenceMatcher(None, FORM.words, words(result["text"])).ratio() >= 0.9


def test_long_line_is_not_taken_for_upside_down(read: Read) -> None:
    """The line classifier squeezes its input to 4:1; a 34:1 line squeezed whole came out
    upside down with 0.96 confidence and was read as gibberish."""
    text = "A very long banner strip of text that keeps going across the page"
    banner = Image.new("RGB", (2400, 60), "white")
    ImageDraw.Draw(banner).text((10, 10), f"{text} {text}", fill="black", font=font(32))
    result = read(banner)
    assert result["orientation"]["angle"] == 0
    assert word_recall(words(f"{text} {text}"), words(result["text"])) >= 0.95


def test_words_without_recogniser_columns_are_spread_evenly() -> None:
    reading = Reading.of("ab cd", 0.9, WordInfo())
    assert [(text, start, end) for text, _confidence, start, end in reading.words()] == [
        ("ab", 0.0, pytest.approx(0.4)),
        ("cd", pytest.approx(0.6), 1.0),
    ]


def test_game_screenshot_values_are_found(read: Read) -> None:
    found = words(read(hud_screenshot().image)["text"])
    assert "12850" in found
    assert "87/100" in found


TEXT_FREE = {
    "astronaut": data.astronaut,
    "coffee": data.coffee,
    "chelsea": data.chelsea,
    "rocket": data.rocket,
    "camera": data.camera,
    "coins": data.coins,
    "grass": data.grass,
}


@pytest.mark.parametrize("name", TEXT_FREE)
@pytest.mark.parametrize("scale", [1.0, 1.6])
def test_photo_without_text_has_no_lines(read: Read, name: str, scale: float) -> None:
    image = Image.fromarray(TEXT_FREE[name]()).convert("RGB")
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    result = read(image)
    assert result["lines"] == []
    assert result["text"] == ""


def recording_run(run: Callable[..., Any], shapes: list[tuple[int, ...]]) -> Callable[..., Any]:
    def recording(outputs: Any, feed: dict[str, Any], *rest: Any) -> Any:
        shapes.append(tuple(next(iter(feed.values())).shape))
        return run(outputs, feed, *rest)

    return recording


def detector_inputs(models: Models, image: Image.Image) -> list[tuple[int, ...]]:
    """The shapes the text detector was run on while reading `image`."""
    analyzer = ReadAnalyzer(models)
    encoded = encode(image, "PNG")
    picture = decode(encoded, max_bytes=len(encoded), max_pixels=image.width * image.height)
    shapes: list[tuple[int, ...]] = []
    with analyzer._engine.acquire() as engine:
        # The first look may run the detector's int8 copy: both sessions are recorded.
        sessions = {
            id(session): session for session in (engine.first_look, engine.detector.session.session)
        }
        for session in sessions.values():
            session.run = recording_run(session.run, shapes)
        try:
            result_of(analyzer, picture)
        finally:
            for session in sessions.values():
                del session.run
    return shapes


def test_text_free_photo_gets_only_the_detectors_first_look(models: Models) -> None:
    photo = Image.fromarray(data.astronaut()).convert("RGB").resize((640, 640))
    assert detector_inputs(models, photo) == [(1, 3, 320, 320)]


def test_marks_illegible_both_ways_up_are_not_looked_at_again_turned(models: Models) -> None:
    """coffee's cup rim looks like a line of text on its side to the detector; read both ways
    up it is no text, so the picture is not turned and searched again. The rim is a thick
    line: the full look needs no more than the smallest size it takes."""
    photo = Image.fromarray(data.coffee()).convert("RGB").resize((640, 427))
    assert detector_inputs(models, photo) == [(1, 3, 224, 320), (1, 3, 320, 480)]


def test_long_strip_is_not_shrunk_to_nothing_by_the_first_look(models: Models) -> None:
    """Padded to 8:1 and looked at by its longest side only, a 2400x60 banner's first look
    would be 320x40 px (32 after the detector's rounding), its line too thin to find. At 96 px
    high the first look finds it, and the full look is sized from it."""
    banner = Image.new("RGB", (2400, 60), "white")
    ImageDraw.Draw(banner).text((10, 10), "A banner", fill="black", font=font(32))
    assert detector_inputs(models, banner) == [(1, 3, 96, 384), (1, 3, 160, 608)]


def test_page_gets_the_first_look_then_a_full_look_sized_from_its_lines(models: Models) -> None:
    """The memo's thinnest line, found at 320 px, has a box 24 px tall at about 512 px."""
    assert detector_inputs(models, memo().image) == [(1, 3, 256, 320), (1, 3, 384, 512)]


def test_blank_picture_has_no_text(read: Read) -> None:
    result = read(blank().image)
    assert result["lines"] == []
    assert result["text"] == ""
    assert result["orientation"] == {"angle": 0, "confidence": 0.0}


def test_version_names_a_non_default_detector_size(models: Models) -> None:
    assert ReadAnalyzer(models).version == "4-1-int8"
    assert ReadAnalyzer(models, max_side=1280).version == "4-1-int8-1280-320"


def test_engine_loads_without_the_network(models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("rapidocr tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # Even a download that would find its file already present counts.
    monkeypatch.setattr(DownloadFile, "run", refuse)
    engine = PPOCR(models.registry.path(MODEL), models.session)
    crop = np.asarray(FORM.image.crop((70, 190, 700, 240)))[:, :, ::-1].copy()
    assert engine.classify([crop])[0] < 0.5
    assert engine.recognize([crop])[0].text.startswith("Policy Number")


def test_missing_model_files_skip_the_feature(models: Models, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="rapidocr"):
        PPOCR(tmp_path, models.session)


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(lambda: paired_fields("DejaVuSerif", 20), id="serif"),
        pytest.param(
            lambda: scanned(
                paired_fields("DejaVuSans-Bold", 20), quality=36, sigma=9, angle=-2.7, seed=20
            ),
            id="noisy-bold",
        ),
    ],
)
def test_spaces_the_recogniser_ran_together_are_kept(
    read: Read, page: Callable[[], Document]
) -> None:
    document = page()
    result = read(document.image)
    assert "09/13/2024 Date" in result["text"]
    found = words(result["text"])
    assert word_recall(document.words, found) >= 0.95
    assert all(word in document.words for word in found)


def test_dated_claim_form_keeps_its_fields_apart(read: Read) -> None:
    document = scanned(dated_claim_form(), quality=32, sigma=10, angle=2.5)
    text = read(document.image)["text"]
    assert "Date: 09/13/2024" in text
    assert word_recall(document.words, words(text)) == 1.0


def test_spaces_need_a_located_reading() -> None:
    reading = Reading.of("ab", 0.9, WordInfo())
    wide_gap = np.full((20, 200, 3), 255, np.uint8)
    wide_gap[5:15, 10:30] = 0
    wide_gap[5:15, 170:190] = 0
    assert reading.spaced(wide_gap).text == "ab"
