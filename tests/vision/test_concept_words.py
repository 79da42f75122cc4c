"""Concept words from other features' results: synthetic results for the rules, and real
pictures through the real analyzers for what a user sees in `tags`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
from PIL import Image, ImageDraw
from skimage import data

from sightline.images.pipeline import run_features
from sightline.models import Models
from sightline.vision import Picture
from sightline.vision.base import Analysis
from sightline.vision.color import ColorResult
from sightline.vision.concept_words import (
    VOCABULARY,
    concept_words,
    image_type_words,
    people_words,
    text_words,
)
from sightline.vision.faces import FacesResult
from sightline.vision.image_type import TYPES, ImageTypeResult, TypeScores
from sightline.vision.people import PeopleResult
from sightline.vision.read import ReadResult
from sightline.vision.registry import build_analyzers
from support import documents, graphics

PictureOf = Callable[..., Picture]
HEADER: dict[str, Any] = {"model": {"name": "net", "version": "1"}, "width": 400, "height": 300}
FORBIDDEN = {"man", "woman", "boy", "girl", "male", "female", "child", "old", "young", "smiling"}
FEATURES = ["color", "tags", "read", "faces", "people", "image_type"]
LANDMARKS = {
    name: {"x": 0, "y": 0}
    for name in ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")
}


def faces(*boxes: tuple[int, float]) -> FacesResult:
    """Faces of the given heights (pixels of a 300-px-high picture) and confidences."""
    return FacesResult.model_validate(
        {
            **HEADER,
            "faces": [
                {"box": {"x": 0, "y": 0, "w": h, "h": h}, "confidence": c, "landmarks": LANDMARKS}
                for h, c in boxes
            ],
        }
    )


def people(*confidences: float) -> PeopleResult:
    box = {"x": 0, "y": 0, "w": 10, "h": 40}
    found = [{"box": box, "confidence": c, "keypoints": []} for c in confidences]
    return PeopleResult.model_validate({**HEADER, "people": found})


def read(*texts: str, height: int = 20) -> ReadResult:
    box = {"x": 0, "y": 0, "w": 200, "h": height}
    lines = [{"text": t, "confidence": 0.9, "polygon": [], "box": box, "words": []} for t in texts]
    orientation = {"angle": 0, "confidence": 1.0}
    return ReadResult.model_validate(
        {**HEADER, "orientation": orientation, "text": "\n".join(texts), "lines": lines}
    )


def named(words: list[Any]) -> dict[str, float]:
    return {word.name: word.confidence for word in words}


def test_people_words_count_faces_or_bodies_whichever_saw_more() -> None:
    assert named(people_words(faces((30, 0.9)), None)) == {"person": 0.9}
    group = people_words(faces((30, 0.9), (30, 0.8)), people(0.7, 0.6, 0.5))
    assert named(group) == {"person": 0.7, "people": 0.6, "group of people": 0.5}
    assert {word.source for word in group} == {"people"}
    crowd = named(people_words(None, people(*[0.9 - i * 0.01 for i in range(12)])))
    assert crowd["crowd"] == pytest.approx(0.81)
    assert people_words(None, None) == []


def test_a_large_face_is_a_portrait_and_a_very_large_one_maybe_a_selfie() -> None:
    assert "portrait" not in named(people_words(faces((40, 0.9)), None))  # a small face
    assert named(people_words(faces((90, 0.9)), None))["portrait"] == 0.9
    close = named(people_words(faces((200, 0.9)), None))
    assert close["portrait"] == 0.9 and close["selfie"] == pytest.approx(0.45)
    three = named(people_words(faces((200, 0.9), (200, 0.9), (200, 0.9)), None))
    assert "portrait" not in three and "selfie" not in three


def test_text_words_from_amount_of_text_and_layout() -> None:
    assert text_words(read("OK")) == []
    assert named(text_words(read("Opening hours 9-17"))) == {"text": pytest.approx(0.9)}
    receipt = ["Coffee 2.50", "Bagel 3.20", "Tea 1.90", "Water 1.00", "Tax 0.80", "TOTAL 9.40"]
    assert list(named(text_words(read(*receipt)))) == ["receipt", "document", "text"]
    form = ["Name: Ada", "Policy: 42", "Date: 2024", "Claim", "Amount: 10", "Signed"]
    assert list(named(text_words(read(*form)))) == ["form", "document", "text"]
    tiny = ["a line", "and more", "words", "here", "and", "there"]  # little text on the page
    assert list(named(text_words(read(*tiny, height=1)))) == ["text"]


def test_image_type_words_map_known_types_and_graphics_only() -> None:
    def kind(type_: str, graphic: str | None = None) -> ImageTypeResult:
        scores = {name: 0.8 if name == type_ else 0.05 for name in TYPES}
        # Built unvalidated so that a type or graphic this code does not know can be tried.
        result: ImageTypeResult = cast(Any, ImageTypeResult).model_construct(
            type=type_, graphic=graphic, scores=TypeScores.model_validate(scores)
        )
        return result

    assert named(image_type_words(kind("screenshot"))) == {"screenshot": 0.8}
    assert named(image_type_words(kind("document"))) == {"document": 0.8}
    assert image_type_words(kind("photo")) == []
    assert image_type_words(kind("hologram")) == []
    assert named(image_type_words(kind("clip_art", "chart"))) == {"clip art": 0.8, "chart": 0.8}
    assert named(image_type_words(kind("clip_art", "logo"))) == {"clip art": 0.8, "logo": 0.6}
    assert named(image_type_words(kind("photo", "logo"))) == {"logo": 0.6}
    assert image_type_words(kind("photo", "map")) == []
    assert {"chart", "logo"} <= set(VOCABULARY)


def test_colour_words_and_one_word_per_name() -> None:
    color = ColorResult.model_validate(
        {
            "dominant_color_foreground": "red",
            "dominant_color_background": "white",
            "dominant_colors": ["white", "red"],
            "accent_color": "FF0000",
            "is_black_and_white": False,
            "palette": [
                {"hex": "#ffffff", "name": "white", "fraction": 0.5},
                {"hex": "#ff0000", "name": "red", "fraction": 0.3},
                {"hex": "#fefefe", "name": "white", "fraction": 0.2},
            ],
        }
    )
    assert color.index_entries().tags == [("white", 0.7), ("red", 0.3)]
    words = concept_words(
        {
            "color": Analysis(color),
            "faces": Analysis(faces((30, 0.9))),
            "people": Analysis(people(0.95)),
        }
    )
    assert [(w.name, w.source) for w in words] == [
        ("person", "people"),
        ("white", "color"),
        ("red", "color"),
    ]
    assert all(word.name in VOCABULARY for word in words)


@pytest.fixture(scope="module")
def analyzers(models: Models) -> dict[str, Any]:
    return build_analyzers(models)


def tags_of(analyzers: dict[str, Any], picture: Picture) -> list[dict[str, Any]]:
    runs = run_features(picture, FEATURES, analyzers, lambda _a, _r: None)
    [tags] = [run.state.result for run in runs if run.state.feature == "tags"]
    assert tags is not None
    found: list[dict[str, Any]] = tags["tags"]
    return found


def test_the_astronaut_is_a_person_before_any_garment(
    analyzers: dict[str, Any], picture_of: PictureOf
) -> None:
    tags = tags_of(analyzers, picture_of(Image.fromarray(data.astronaut()), "JPEG", quality=90))
    assert [(t["name"], t["source"]) for t in tags[:2]] == [
        ("person", "faces"),
        ("portrait", "faces"),
    ]
    assert tags[0]["confidence"] > 0.8
    names = {word for tag in tags for word in (tag["name"], *tag["broader"])}
    assert not names & FORBIDDEN


def test_a_rendered_receipt_is_a_receipt_and_a_document(
    analyzers: dict[str, Any], picture_of: PictureOf
) -> None:
    tags = tags_of(analyzers, picture_of(documents.receipt().image))
    assert {"receipt", "document", "text"} <= {t["name"] for t in tags[:4]}
    assert tags[0]["source"] in ("read", "image_type")
    assert "white" in {t["name"] for t in tags if t["source"] == "color"}


def test_a_rendered_bar_chart_and_logo_are_tagged_so(
    analyzers: dict[str, Any], picture_of: PictureOf
) -> None:
    rng = np.random.default_rng(0)
    chart = tags_of(analyzers, picture_of(graphics.bar_chart(rng)))
    assert ("chart", "image_type") in {(t["name"], t["source"]) for t in chart}
    mark = Image.new("RGB", (400, 400), "white")
    ImageDraw.Draw(mark).ellipse([110, 110, 290, 290], fill=(200, 40, 40))
    tags = tags_of(analyzers, picture_of(mark))
    assert ("logo", "image_type") in {(t["name"], t["source"]) for t in tags}
    assert "chart" not in {t["name"] for t in tags}
