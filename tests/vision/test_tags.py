"""The `tags` and `embedding` features on the real EfficientNet-Lite0 model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data

from sightline.images.pipeline import run_features
from sightline.models import Models, ModelUnavailable
from sightline.models.imagenet_labels import ClassLabel
from sightline.storage.records import FeatureStatus
from sightline.vision import Analyzer, Picture
from sightline.vision import tags as tags_module
from sightline.vision.concept_words import ConceptWord
from sightline.vision.tags import (
    EmbeddingAnalyzer,
    Tag,
    TagsAnalyzer,
    TagsResult,
    Vocabulary,
    imagenet_tags,
    rank_tags,
)
from sightline.vision.vectors import softmax
from support.analysis import result_of

PictureOf = Callable[..., Picture]
CAT_FAMILY = {"n02123045", "n02123159", "n02123394", "n02123597", "n02124075", "n02127052"}
ESPRESSO, CUP = "n07920052", "n07930864"


@pytest.fixture(scope="module")
def tagger(models: Models) -> TagsAnalyzer:
    return TagsAnalyzer(models)


@pytest.fixture(scope="module")
def embedder(models: Models) -> EmbeddingAnalyzer:
    return EmbeddingAnalyzer(models)


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)())


def vector(
    embedder: EmbeddingAnalyzer, tagger: TagsAnalyzer, picture: Picture
) -> np.ndarray[Any, np.dtype[Any]]:
    return np.array(result_of(embedder, picture, tagger)["vector"])


def test_a_cat_is_tagged_cat_and_animal(tagger: TagsAnalyzer, picture_of: PictureOf) -> None:
    result = result_of(tagger, picture_of(photo("chelsea"), "JPEG", quality=90))
    assert result["model"]["name"] == "efficientnet-lite0"
    assert (result["width"], result["height"]) == (451, 300)
    assert {c["wnid"] for c in result["classes"][:3]} & CAT_FAMILY
    # Unsure breeds make a sure "domestic cat", which leads; no general word leads.
    first, *rest = result["tags"]
    assert "cat" in first["name"] and first["confidence"] > 0.8
    assert {"cat", "animal"} <= set(first["broader"])
    assert {tag["name"] for tag in rest} & {"tiger cat", "tabby cat", "Egyptian Mau"}
    words = {word for word, _ in TagsResult.model_validate(result).index_entries().tags}
    assert {"cat", "feline", "animal"} <= words


def test_coffee_is_espresso_or_a_cup(tagger: TagsAnalyzer, picture_of: PictureOf) -> None:
    result = result_of(tagger, picture_of(photo("coffee")))
    assert {c["wnid"] for c in result["classes"][:2]} & {ESPRESSO, CUP}


def test_results_are_ranked_and_within_bounds(tagger: TagsAnalyzer, picture_of: PictureOf) -> None:
    result = result_of(tagger, picture_of(photo("rocket")))
    classes, tags = result["classes"], result["tags"]
    assert len(classes) == tagger.top_k
    class_confidences = [entry["confidence"] for entry in classes]
    assert class_confidences == sorted(class_confidences, reverse=True)
    confidences = [tag["confidence"] for tag in tags if tag["source"] != "color"]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= entry["confidence"] <= 1 for entry in classes + tags)
    assert all(tag["confidence"] >= tagger.threshold for tag in tags)
    assert all(tag["source"] == "imagenet" for tag in tags)  # nothing else ran
    assert all(len(tag["broader"]) <= tags_module.MAX_BROADER for tag in tags)
    assert len({tag["name"] for tag in tags}) == len(tags) <= tagger.max_tags
    json.dumps(result, allow_nan=False)


def labels(*entries: tuple[str, tuple[str, ...]]) -> list[ClassLabel]:
    return [
        ClassLabel(index, f"n{index:08d}", name, broader)
        for index, (name, broader) in enumerate(entries)
    ]


LABELS = labels(
    ("tabby cat", ("cat", "feline", "animal")),
    ("tiger cat", ("cat", "feline", "animal")),
    ("lion", ("big cat", "feline", "animal")),
    ("cup", ("container",)),
    ("mug", ("cup", "container")),  # "cup" is a class and a broader term
    ("box", ("container",)),
    ("dog", ("animal",)),
    ("Persian cat", ("cat", "feline", "animal")),
)
VOCABULARY = Vocabulary.of(LABELS)


def found(probabilities: list[float], threshold: float = 0.1) -> list[tuple[str, float, list[str]]]:
    padded = np.zeros(len(LABELS), np.float32)
    padded[: len(probabilities)] = probabilities
    tags = imagenet_tags(padded, LABELS, VOCABULARY, threshold=threshold)
    return [(tag.name, tag.confidence, tag.broader) for tag in tags]


def test_classes_are_tags_with_their_broader_terms() -> None:
    assert found([0.1, 0.05, 0.0, 0.15, 0.7]) == [
        ("mug", 0.7, ["cup", "container"]),
        ("cup", 0.15, ["container"]),
        ("tabby cat", 0.1, ["cat", "feline", "animal"]),
    ]


def test_unsure_classes_that_are_sure_together_make_a_tag_of_their_broader_term() -> None:
    # No cat is sure; "cat" is (0.75), and the terms above it go in its `broader`, not
    # in tags of their own.
    assert found([0.3, 0.25, 0.05, 0, 0, 0, 0, 0.2]) == [
        ("cat", 0.75, ["feline", "animal"]),
        ("tabby cat", 0.3, ["cat", "feline", "animal"]),
        ("tiger cat", 0.25, ["cat", "feline", "animal"]),
        ("Persian cat", 0.2, ["cat", "feline", "animal"]),
    ]
    # Not twice as sure as its likeliest class: the classes say it all.
    assert [name for name, _, _ in found([0.45, 0.25])] == ["tabby cat", "tiger cat"]


def test_broader_lists_keep_the_nearest_and_the_broadest_terms() -> None:
    long = (("a", ("b", "c", "d", "e", "f", "g")),)
    tags = imagenet_tags(
        np.array([1.0], np.float32), labels(*long), Vocabulary.of(labels(*long)), 0.1
    )
    assert [tag.broader for tag in tags] == [["b", "c", "d", "e", "g"]]


def test_concept_words_lead_colours_trail_and_the_list_is_capped() -> None:
    imagenet = [
        Tag(name="football helmet", confidence=0.16, source="imagenet", broader=["helmet"]),
        Tag(name="orange", confidence=0.3, source="imagenet", broader=["fruit"]),
    ]
    concepts = [
        ConceptWord("person", 0.93, "faces"),
        ConceptWord("white", 0.9, "color"),
        ConceptWord("orange", 0.2, "color"),  # the fruit is surer: listed once, as the fruit
    ]
    ranked = rank_tags(imagenet, concepts, limit=10)
    assert [(tag.name, tag.source) for tag in ranked] == [
        ("person", "faces"),
        ("orange", "imagenet"),
        ("football helmet", "imagenet"),
        ("white", "color"),
    ]
    assert [tag.name for tag in rank_tags(imagenet, concepts, limit=2)] == ["person", "orange"]


def test_broader_terms_are_indexed_as_sure_as_their_tag() -> None:
    result = TagsResult(
        model={"name": "net", "version": "1"},
        width=1,
        height=1,
        tags=[Tag(name="tabby cat", confidence=0.8, source="imagenet", broader=["cat", "animal"])],
        classes=[],
    )
    assert dict(result.index_entries().tags) == {"tabby cat": 0.8, "cat": 0.8, "animal": 0.8}


def test_the_embedding_is_a_unit_vector(
    embedder: EmbeddingAnalyzer, tagger: TagsAnalyzer, picture_of: PictureOf
) -> None:
    result = result_of(embedder, picture_of(photo("chelsea")), tagger)
    assert result["dimensions"] == 1280 == len(result["vector"])
    assert result["normalized"] is True
    assert all(isinstance(value, float) for value in result["vector"])
    assert np.linalg.norm(result["vector"]) == pytest.approx(1.0, abs=1e-4)


def test_a_recompressed_copy_embeds_near_the_original(
    embedder: EmbeddingAnalyzer, tagger: TagsAnalyzer, picture_of: PictureOf
) -> None:
    original = photo("chelsea")
    copy = original.resize((300, 200), Image.Resampling.BILINEAR)
    a = vector(embedder, tagger, picture_of(original))
    b = vector(embedder, tagger, picture_of(copy, "JPEG", quality=40))
    other = vector(embedder, tagger, picture_of(photo("coffee")))
    assert float(a @ b) > 0.9
    assert float(a @ b) > float(a @ other)


def test_both_features_share_one_model_run(
    tagger: TagsAnalyzer,
    embedder: EmbeddingAnalyzer,
    picture_of: PictureOf,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = []
    classify = tags_module.classify_batch

    def counting(model: tags_module.Classifier, images: list[Image.Image]) -> Any:
        runs.append(len(images))
        return classify(model, images)

    monkeypatch.setattr(tags_module, "classify_batch", counting)
    analyzers: dict[str, Analyzer] = {"tags": tagger, "embedding": embedder}
    picture = picture_of(photo("coffee"))
    done = run_features(picture, ["embedding", "tags"], analyzers, lambda _a, _r: None)
    assert [run.state.status for run in done] == [FeatureStatus.DONE] * 2
    assert runs == [1]
    # Alone, the embedding still runs the classifier once: `tags` is computed for it, unstored.
    alone = run_features(
        picture_of(photo("chelsea")), ["embedding"], analyzers, lambda _a, _r: None
    )
    assert [run.state.feature for run in alone] == ["embedding"]
    assert runs == [1, 1]


def test_classify_batch_matches_one_at_a_time(tagger: TagsAnalyzer) -> None:
    images = [photo("chelsea"), photo("coffee"), photo("rocket")]
    with tagger.model.acquire() as model:
        probabilities, features, early = tags_module.classify_batch(model, images)
        singles = [tags_module.classify_batch(model, [image]) for image in images]
    assert probabilities.shape == (3, 1000) and features.shape == (3, 1280)
    assert early.shape == (3, 152)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    for row, (single_probabilities, single_features, single_early) in enumerate(singles):
        np.testing.assert_allclose(probabilities[row], single_probabilities[0], atol=1e-5)
        np.testing.assert_allclose(features[row], single_features[0], atol=1e-4)
        np.testing.assert_allclose(early[row], single_early[0], atol=1e-4)


def test_non_default_settings_change_the_version(models: Models, tagger: TagsAnalyzer) -> None:
    assert TagsAnalyzer(models, top_k=3).version != tagger.version
    assert TagsAnalyzer(models).version == tagger.version


def test_without_the_model_both_features_are_skipped(tmp_path: Path, picture_of: PictureOf) -> None:
    empty = Models(tmp_path, threads=1, idle_seconds=0)
    analyzers: dict[str, Analyzer] = {
        "tags": TagsAnalyzer(empty),
        "embedding": EmbeddingAnalyzer(empty),
    }
    picture = picture_of(photo("coffee"))
    with pytest.raises(ModelUnavailable, match="sightline models prepare"):
        result_of(analyzers["tags"], picture)
    for features in (["tags", "embedding"], ["embedding"]):
        for run in run_features(picture, features, analyzers, lambda _a, _r: None):
            assert run.state.status is FeatureStatus.SKIPPED
            assert "sightline models prepare" in run.state.result["reason"]  # type: ignore[index]
    empty.close()


def test_early_features_come_from_the_same_run_and_change_nothing_else(
    tagger: TagsAnalyzer, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The classifier is loaded with an earlier block's output added: one session run per
    picture gives it too, and the probabilities and features are the unmodified model's."""
    image = photo("coffee")
    runs: list[list[str]] = []
    with tagger.model.acquire() as model:
        run = model.session.run

        def counting(names: list[str], feed: dict[str, Any]) -> Any:
            runs.append(names)
            return run(names, feed)

        monkeypatch.setattr(model.session, "run", counting)
        probabilities, features, early = tags_module.classify_batch(model, [image])
    assert runs == [["logits", "features", *tags_module.EARLY_OUTPUTS]]
    assert early.shape == (1, 152)
    np.testing.assert_allclose(np.linalg.norm(early[0, :40]), 1, rtol=1e-5)
    with models.onnx(tags_module.MODEL).acquire() as plain:
        logits, plain_features = plain.run(
            ["logits", "features"], {"pixels": tags_module.model_input(image)[None]}
        )
    np.testing.assert_allclose(features, plain_features, atol=1e-5)
    np.testing.assert_allclose(probabilities, softmax(np.asarray(logits, np.float32)), atol=1e-6)
