"""The kept answers of `GET /v1/images/{id}`: keyed by image, version and view, bounded by bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sightline.api.image_answers import Answer, ImageAnswers
from sightline.api.schemas import ImageView

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def answer(size: int) -> Answer:
    return Answer(b"x" * size, '"etag"')


def test_an_answer_is_found_only_for_its_version_and_view() -> None:
    answers = ImageAnswers(1000)
    answers.put("img_1", NOW, ImageView(), answer(10))
    assert answers.get("img_1", NOW, ImageView()) == answer(10)
    assert answers.get("img_1", NOW + timedelta(microseconds=1), ImageView()) is None
    assert answers.get("img_1", NOW, ImageView(vectors=True)) is None
    assert answers.get("img_1", NOW, ImageView(results=frozenset({"color"}))) is None
    assert answers.get("img_2", NOW, ImageView()) is None
    assert answers.holds("img_1") and not answers.holds("img_2")


def test_the_least_recently_read_go_first_past_the_byte_bound() -> None:
    answers = ImageAnswers(30)
    for name in ("a", "b", "c"):
        answers.put(name, NOW, ImageView(), answer(10))
    assert answers.get("a", NOW, ImageView()) is not None  # now the most recently read
    answers.put("d", NOW, ImageView(), answer(10))
    assert answers.get("b", NOW, ImageView()) is None and not answers.holds("b")
    assert [answers.get(name, NOW, ImageView()) is not None for name in "acd"] == [True] * 3
    answers.put("huge", NOW, ImageView(), answer(31))  # larger than the bound: not kept
    assert answers.get("huge", NOW, ImageView()) is None and len(answers) == 3


def test_a_bound_of_zero_keeps_nothing() -> None:
    answers = ImageAnswers(0)
    answers.put("img_1", NOW, ImageView(), answer(1))
    assert len(answers) == 0
