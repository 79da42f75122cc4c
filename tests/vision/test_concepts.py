"""The `semantic` feature (ConSE) on the real classifier and sentence model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data

from sightline.images.pipeline import run_features
from sightline.models import Models, ModelUnavailable
from sightline.models.imagenet_labels import ClassLabel
from sightline.models.sentences import DIMENSIONS, sentence_encoder
from sightline.vision import Picture, decode
from sightline.vision.concepts import (
    SemanticAnalyzer,
    class_table,
    class_text,
    conse_vector,
    embed_query,
)
from sightline.vision.registry import build_analyzers
from sightline.vision.tags import TagsAnalyzer, classifier, predict
from support import documents
from support.analysis import result_of
from support.imagegen import encode

Vector = np.ndarray[Any, np.dtype[np.float64]]
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle")


@pytest.fixture(scope="module")
def analyzer(models: Models) -> SemanticAnalyzer:
    return SemanticAnalyzer(models)


@pytest.fixture(scope="module")
def tagger(models: Models) -> TagsAnalyzer:
    return TagsAnalyzer(models)


def picture(name: str) -> Picture:
    """A scikit-image sample photo, as an upload would decode it."""
    pixels = getattr(data, name)()
    image = Image.fromarray(pixels[0] if isinstance(pixels, tuple) else pixels)  # stereo: left
    return decode(encode(image, "PNG"), max_bytes=50 * 1024 * 1024, max_pixels=10**8)


@pytest.fixture(scope="module")
def vectors(analyzer: SemanticAnalyzer, tagger: TagsAnalyzer) -> dict[str, Vector]:
    return {name: np.array(result_of(analyzer, picture(name), tagger)["vector"]) for name in PHOTOS}


def test_the_result_names_its_method_models_and_vector(
    analyzer: SemanticAnalyzer, tagger: TagsAnalyzer
) -> None:
    result = result_of(analyzer, picture("chelsea"), tagger)
    assert result["model"] == {"name": "conse", "version": analyzer.version}
    assert (result["width"], result["height"]) == (451, 300)
    assert result["method"] == "conse"
    assert result["text_model"] == {"name": "all-minilm-l6-v2", "version": "1"}
    assert result["image_model"] == {"name": "efficientnet-lite0", "version": "1"}
    assert result["classes"] == 10
    assert result["dimensions"] == DIMENSIONS == len(result["vector"])
    assert result["normalized"] is True
    assert np.linalg.norm(result["vector"]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cat", "chelsea"),
        ("kitten", "chelsea"),
        ("pet", "chelsea"),
        ("hot drink", "coffee"),
        ("coffee", "coffee"),
        ("spaceship", "rocket"),
        ("vehicle", "stereo_motorcycle"),
        ("motorbike", "stereo_motorcycle"),
        ("helmet", "astronaut"),
    ],
)
def test_a_query_finds_the_picture_it_describes(
    models: Models, vectors: dict[str, Vector], query: str, expected: str
) -> None:
    text = embed_query(models, query)
    scores = {name: float(text @ vector) for name, vector in vectors.items()}
    assert max(scores, key=scores.__getitem__) == expected, scores


def test_one_class_gives_that_class_texts_embedding(models: Models, tagger: TagsAnalyzer) -> None:
    coffee = picture("coffee")
    result = result_of(SemanticAnalyzer(models, classes=1), coffee, tagger)
    with classifier(models).acquire() as loaded:
        best = loaded.labels[int(np.argmax(predict(coffee, loaded).probabilities))]
    with sentence_encoder(models).acquire() as encoder:
        expected = encoder.encode([class_text(best)])[0]
    np.testing.assert_allclose(result["vector"], expected, atol=1e-5)
    assert result["classes"] == 1


def test_the_number_of_classes_is_part_of_the_version(
    models: Models, analyzer: SemanticAnalyzer
) -> None:
    assert SemanticAnalyzer(models, classes=10).version == analyzer.version
    assert SemanticAnalyzer(models, classes=5).version != analyzer.version


def test_the_vector_is_the_probability_weighted_mean_of_the_top_classes() -> None:
    table = np.eye(4, 3, dtype=np.float32)  # class i -> axis i; class 3 -> zero vector
    probabilities = np.array([0.2, 0.5, 0.3, 0.0])
    vector = conse_vector(probabilities, table, classes=2)  # class 0 is the third: left out
    np.testing.assert_allclose(vector, np.array([0.0, 0.5, 0.3]) / np.hypot(0.5, 0.3))


@pytest.mark.parametrize(
    ("label", "text"),
    [
        (("tabby cat", ("domestic cat", "cat")), "tabby cat, a kind of domestic cat"),
        # WordNet can list the class's own name first; the next term says more.
        (("mountain", ("mountain", "natural elevation")), "mountain, a kind of natural elevation"),
        (("maze", ()), "maze"),
    ],
)
def test_a_class_is_described_with_its_broader_term(
    label: tuple[str, tuple[str, ...]], text: str
) -> None:
    name, broader = label
    assert class_text(ClassLabel(0, "n00000000", name, broader)) == text


def test_the_class_table_holds_every_class_once_per_process(models: Models) -> None:
    handle = class_table(models)
    assert class_table(models) is handle
    with handle.acquire() as table:
        assert table.shape == (1000, DIMENSIONS)
        np.testing.assert_allclose(np.linalg.norm(table, axis=1), 1.0, atol=1e-5)


def test_a_query_is_a_unit_vector(models: Models) -> None:
    vector = embed_query(models, "a red double-decker bus")
    assert vector.shape == (DIMENSIONS,)
    assert vector.dtype == np.float32
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)


def test_missing_models_skip_the_feature(tmp_path: Path) -> None:
    empty = Models(tmp_path, threads=1, idle_seconds=0)
    with pytest.raises(ModelUnavailable, match="sightline models prepare"):
        result_of(SemanticAnalyzer(empty), picture("coffee"), TagsAnalyzer(empty))
    with pytest.raises(ModelUnavailable):
        embed_query(empty, "coffee")
    empty.close()


@pytest.fixture(scope="module")
def understood(models: Models) -> dict[str, Vector]:
    """Semantic vectors as the default feature set makes them: with the concept words that
    `tags` derives from faces, people, read, image type and colour."""
    analyzers = build_analyzers(models)
    features = ["color", "tags", "semantic", "read", "faces", "people", "image_type"]
    pictures = {name: picture(name) for name in PHOTOS} | {
        "receipt": decode(
            encode(documents.receipt().image, "PNG"), max_bytes=10**8, max_pixels=10**8
        ),
        "claim_form": decode(
            encode(documents.claim_form().image, "PNG"), max_bytes=10**8, max_pixels=10**8
        ),
    }
    found = {}
    for name, one in pictures.items():
        runs = run_features(one, features, analyzers, lambda _a, _r: None)
        [result] = [run.state.result for run in runs if run.state.feature == "semantic"]
        assert result is not None
        found[name] = np.array(result["vector"])
    return found


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("person", "astronaut"),
        ("woman", "astronaut"),
        ("portrait", "astronaut"),
        ("receipt", "receipt"),
        ("insurance claim form", "claim_form"),
        ("cat", "chelsea"),
        ("hot drink", "coffee"),
        ("motorbike", "stereo_motorcycle"),
    ],
)
def test_concept_words_let_queries_find_people_and_documents(
    models: Models, understood: dict[str, Vector], query: str, expected: str
) -> None:
    text = embed_query(models, query)
    scores = {name: float(text @ vector) for name, vector in understood.items()}
    assert max(scores, key=scores.__getitem__) == expected, scores
