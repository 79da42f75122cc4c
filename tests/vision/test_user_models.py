"""Features from user classifiers and clip pairs, run through `Models` on tiny known networks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sightline.errors import InvalidModel
from sightline.models import Models
from sightline.models.manifest import add_user_model
from sightline.vision import geometry
from sightline.vision.base import Picture
from sightline.vision.user_models import (
    UserClassifierAnalyzer,
    UserEncoderAnalyzer,
    encode_text,
    user_analyzers,
)
from support.analysis import result_of
from support.onnxnets import (
    fixed_output,
    pooled_linear,
    text_encoder,
    word_tokenizer,
    write_manifest,
)

PictureOf = Any
LABELS = ["a", "b", "c", "d", "e", "f"]
WEIGHTS = np.array(
    [
        [2.0, -1.0, 0.5, 0.0, 1.0, -2.0],
        [0.0, 3.0, -1.0, 1.0, 0.5, 0.0],
        [1.0, 0.0, 2.0, -1.0, 0, 1],
    ],
    dtype=np.float32,
)
BIAS = np.array([0.1, -0.2, 0.0, 0.3, 0.0, -0.1], dtype=np.float32)
WORDS = ["red", "green", "blue", "cat"]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Models]:
    source = tmp_path / "source"
    source.mkdir()
    pooled_linear(source / "net.onnx", WEIGHTS, BIAS, width=16, height=12)
    pooled_linear(
        source / "raw.onnx", WEIGHTS / 100, BIAS, width=16, height=12, layout="NHWC", dtype="uint8"
    )
    pooled_linear(
        source / "image.onnx", np.eye(3, dtype=np.float32), np.zeros(3), width=8, height=8
    )
    # Token embeddings: [PAD] and [UNK] are zero, each colour points along its own axis.
    embeddings = np.array(
        [[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=np.float32
    )
    text_encoder(source / "text.onnx", embeddings)
    word_tokenizer(source / "tokenizer.json", WORDS)
    fixed_output(source / "det.onnx", np.zeros((1, 5, 4), np.float32), width=16, height=16)
    model_dir = tmp_path / "models"
    manifests: list[dict[str, Any]] = [
        {"name": "colours", "kind": "classifier", "model": "net.onnx", "labels": LABELS,
         "input": {"width": 16, "height": 12}},
        {"name": "raw", "kind": "classifier", "model": "raw.onnx", "labels": LABELS,
         "activation": "sigmoid", "input": {"width": 16, "height": 12, "layout": "NHWC",
                                            "dtype": "uint8", "color": "BGR"}},
        {"name": "tiny-clip", "kind": "clip", "model": "image.onnx", "text_model": "text.onnx",
         "tokenizer": "tokenizer.json", "text_max_length": 4, "input": {"width": 8, "height": 8}},
        {"name": "boxes", "kind": "detector", "model": "det.onnx", "labels": ["x"],
         "format": "yolov8", "input": {"width": 16, "height": 16}},
    ]  # fmt: skip
    for manifest in manifests:
        add_user_model(model_dir, write_manifest(source, **manifest))
    hub = Models(model_dir, threads=1, idle_seconds=0)
    yield hub
    hub.close()


def solid(picture_of: PictureOf, colour: tuple[int, int, int]) -> Picture:
    picture: Picture = picture_of(Image.new("RGB", (40, 20), colour))
    return picture


def expected_labels(logits: np.ndarray, activation: str) -> list[dict[str, Any]]:
    if activation == "softmax":
        scores = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    else:
        scores = 1 / (1 + np.exp(-logits))
    order = np.argsort(-scores, kind="stable")[:5]
    return [{"name": LABELS[i], "confidence": geometry.confidence(scores[i])} for i in order]


def test_one_feature_per_classifier_and_clip_model(hub: Models) -> None:
    analyzers = user_analyzers(hub)
    assert sorted(analyzers) == ["model:colours", "model:raw", "model:tiny-clip"]
    assert isinstance(analyzers["model:colours"], UserClassifierAnalyzer)
    assert isinstance(analyzers["model:tiny-clip"], UserEncoderAnalyzer)
    spec = hub.registry.get("colours")
    assert analyzers["model:colours"].version == f"1-{spec.version}"


def test_no_user_models_no_features(tmp_path: Path) -> None:
    assert user_analyzers(Models(tmp_path, threads=1, idle_seconds=0)) == {}


def test_classifier_gives_its_top_five_labels(hub: Models, picture_of: PictureOf) -> None:
    result = result_of(user_analyzers(hub)["model:colours"], solid(picture_of, (200, 100, 50)))
    spec = hub.registry.get("colours")
    assert result["model"] == {"name": "colours", "version": spec.version}
    assert (result["width"], result["height"]) == (40, 20)
    means = np.array([200, 100, 50], dtype=np.float32) * np.float32(1 / 255)
    assert result["labels"] == expected_labels(means @ WEIGHTS + BIAS, "softmax")


def test_raw_bgr_nhwc_input_and_sigmoid(hub: Models, picture_of: PictureOf) -> None:
    result = result_of(user_analyzers(hub)["model:raw"], solid(picture_of, (200, 100, 50)))
    means = np.array([50, 100, 200], dtype=np.float32)  # BGR order, raw pixels
    assert result["labels"] == expected_labels(means @ (WEIGHTS / 100) + BIAS, "sigmoid")


def test_image_embedding_is_normalised(hub: Models, picture_of: PictureOf) -> None:
    result = result_of(user_analyzers(hub)["model:tiny-clip"], solid(picture_of, (255, 0, 0)))
    assert result["dimensions"] == 3 and result["normalized"] is True
    assert result["vector"] == [1.0, 0.0, 0.0]
    assert result["model"]["name"] == "tiny-clip"
    assert (result["width"], result["height"]) == (40, 20)


def test_text_embeddings_rank_the_matching_colour_first(hub: Models, picture_of: PictureOf) -> None:
    spec = hub.registry.get("tiny-clip")
    image = result_of(user_analyzers(hub)["model:tiny-clip"], solid(picture_of, (250, 120, 10)))
    texts = ["blue", "red", "green", "red and green", "cat"]
    vectors = encode_text(hub, spec, texts)
    assert vectors.shape == (5, 3) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-6)
    similarity = vectors @ np.array(image["vector"])
    assert [texts[i] for i in np.argsort(-similarity)] == [
        "red and green", "red", "cat", "green", "blue"
    ]  # fmt: skip


def test_texts_are_truncated_to_the_declared_length(hub: Models) -> None:
    spec = hub.registry.get("tiny-clip")
    # Only the first four tokens count: the trailing blues are cut off.
    vectors = encode_text(hub, spec, ["red red red green blue blue blue", "red red red green"])
    np.testing.assert_allclose(vectors[0], vectors[1], rtol=1e-6)


def test_encode_text_needs_a_clip_model(hub: Models) -> None:
    with pytest.raises(InvalidModel, match="not a clip model"):
        encode_text(hub, hub.registry.get("colours"), ["red"])
    assert encode_text(hub, hub.registry.get("tiny-clip"), []).shape == (0, 0)
