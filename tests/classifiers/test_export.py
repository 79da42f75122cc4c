"""Exported heads run in onnxruntime to the same probabilities and carry their labels."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from sightline.classifiers.export import labels_of, to_onnx
from sightline.classifiers.training import ClassifierKind, Head, train

DIMENSIONS = 1280
EMBEDDING_MODEL = {"name": "efficientnet-lite0", "feature_version": "1+abc"}


def trained(kind: ClassifierKind, labels: list[str], seed: int = 0) -> Head:
    """A head on overlapping clusters (probabilities well inside (0, 1), not saturated).
    Multilabel: a cluster without labels too, and the first label on every third example."""
    sets = [frozenset([label]) for label in labels]
    if kind is ClassifierKind.MULTILABEL:
        sets.append(frozenset())
    rng = np.random.default_rng(seed)
    centres = np.abs(rng.normal(size=DIMENSIONS)) + 0.3 * rng.normal(size=(len(sets), DIMENSIONS))
    vectors = np.repeat(centres, 8, axis=0) + rng.normal(size=(8 * len(sets), DIMENSIONS))
    examples = [labelled for labelled in sets for _ in range(8)]
    if kind is ClassifierKind.MULTILABEL:
        examples = [e | {labels[0]} if i % 3 == 0 else e for i, e in enumerate(examples)]
    return train(kind, vectors.astype(np.float32), examples, labels).head


def run(model: bytes, embeddings: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    (output,) = session.run(["probabilities"], {"embedding": embeddings})
    return np.asarray(output)


@pytest.mark.parametrize(
    ("kind", "labels"),
    [
        (ClassifierKind.MULTICLASS, ["dress", "shirt", "trousers"]),
        (ClassifierKind.MULTICLASS, ["collision", "hail damage"]),
        (ClassifierKind.MULTILABEL, ["red", "round", "striped"]),
        (ClassifierKind.MULTILABEL, ["menu"]),
    ],
    ids=["multiclass", "two-label multiclass", "multilabel", "one-label multilabel"],
)
def test_the_exported_model_gives_the_heads_probabilities(
    kind: ClassifierKind, labels: list[str]
) -> None:
    head = trained(kind, labels)
    model = to_onnx(head, embedding_model=EMBEDDING_MODEL, threshold=0.6)
    rng = np.random.default_rng(1)
    raw = (np.abs(rng.normal(size=(6, DIMENSIONS))) * rng.uniform(0.1, 40, (6, 1))).astype(
        np.float32
    )
    raw[5] = 0.0  # an all-zero vector stays zero instead of dividing by zero
    unit = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-30)
    expected = head.probabilities(raw)
    assert expected[:5].std() > 0.01  # rows differ: the comparison below can tell them apart
    np.testing.assert_allclose(run(model, raw), expected, atol=1e-5)
    np.testing.assert_allclose(run(model, unit), expected, atol=1e-5)
    assert run(model, raw).shape == (6, len(labels))
    assert labels_of(model) == labels


def test_the_model_describes_its_input_output_and_provenance() -> None:
    labels = ['naïve, "quoted"', "hail damage"]
    model = onnx.load_model_from_string(
        to_onnx(
            trained(ClassifierKind.MULTICLASS, labels),
            embedding_model=EMBEDDING_MODEL,
            threshold=0.7,
        )
    )
    onnx.checker.check_model(model, full_check=True)
    props = {prop.key: prop.value for prop in model.metadata_props}
    assert json.loads(props["labels"]) == labels
    assert props["kind"] == "multiclass" and float(props["threshold"]) == 0.7
    assert json.loads(props["embedding_model"]) == EMBEDDING_MODEL
    assert "[N, 1280]" in props["input"]
    (given,) = model.graph.input
    assert given.name == "embedding"
    dims = given.type.tensor_type.shape.dim
    assert (dims[0].dim_param, dims[1].dim_value) == ("N", DIMENSIONS)
    assert [output.name for output in model.graph.output] == ["probabilities"]


def test_labels_of_refuses_a_model_without_labels_or_no_model() -> None:
    model = onnx.load_model_from_string(
        to_onnx(trained(ClassifierKind.MULTILABEL, ["a"]), embedding_model=EMBEDDING_MODEL)
    )
    assert "threshold" not in {prop.key for prop in model.metadata_props}
    del model.metadata_props[:]
    for broken in (model.SerializeToString(), b"not a model"):
        with pytest.raises(ValueError):
            labels_of(broken)
