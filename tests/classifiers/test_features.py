"""Predictions of a custom classifier: every label with its probability, and `predicted`, the
top label of a multiclass head unless a threshold was asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from sightline.classifiers.features import PictureInputs, picture_inputs, prediction
from sightline.classifiers.inputs import InputKind, glimpse, head_input
from sightline.classifiers.training import EARLY_CANDIDATES, ClassifierKind, Head, HeadModel, train
from sightline.memory_budget import MemoryBudget
from sightline.models import Models
from sightline.vision import Decoder
from sightline.vision.tags import TagsAnalyzer, classifier
from support.digits import digits, png

LABELS = ("cat", "dog", "fox")


def unsure() -> Head:
    """A multiclass head whose top label ("dog") has probability ~0.4."""
    weights = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.0]], np.float32)
    return Head(ClassifierKind.MULTICLASS, LABELS, weights, np.zeros(3, np.float32))


def test_multiclass_predicts_its_top_label_without_a_threshold() -> None:
    labels, predicted = prediction(unsure(), PictureInputs(np.array([1.0, 0.0])), threshold=0.0)
    assert predicted == ["dog"]
    assert [label.name for label in labels][0] == "dog" and labels[0].confidence < 0.5


def test_multiclass_predicts_nothing_under_a_threshold_asked_for() -> None:
    _, predicted = prediction(unsure(), PictureInputs(np.array([1.0, 0.0])), threshold=0.5)
    assert predicted == []
    _, predicted = prediction(unsure(), PictureInputs(np.array([1.0, 0.0])), threshold=0.35)
    assert predicted == ["dog"]


def test_a_pixel_head_reads_the_glimpse_of_the_picture() -> None:
    dark, light = Image.new("RGB", (40, 30), "black"), Image.new("RGB", (90, 90), "white")
    support = head_input(InputKind.PIXELS, None, [glimpse(dark), glimpse(light)])
    head = Head(
        ClassifierKind.MULTICLASS,
        ("dark", "light"),
        np.eye(2, dtype=np.float32),
        np.zeros(2, np.float32),
        input=InputKind.PIXELS,
        model=HeadModel.NEIGHBOURS,
        support=support,
        neighbours=1,
    )
    embedding = np.ones(4, np.float32)  # not read by this head
    for picture, name in ((Image.new("RGB", (10, 10), (20, 20, 20)), "dark"), (light, "light")):
        _, predicted = prediction(head, PictureInputs(embedding, glimpse(picture)), threshold=0.0)
        assert predicted == [name]


def test_an_early_features_head_reads_the_same_input_trained_and_predicting(
    models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training examples and pictures sent to be predicted are read by `picture_inputs`, one
    model run each for embedding and early features; the `custom:NAME` feature reads the
    `tags` pass's. All three give a head the same input."""
    known, unseen = digits(5, classes=range(2))
    decoder = Decoder(10**7, MemoryBudget(10**9))
    model = classifier(models)
    runs: list[list[str]] = []
    with model.acquire() as loaded:
        run = loaded.session.run

        def counting(names: list[str], feed: dict[str, Any]) -> Any:
            runs.append(names)
            return run(names, feed)

        monkeypatch.setattr(loaded.session, "run", counting)
    read = [picture_inputs(png(picture), decoder, model) for picture in known.pictures]
    assert len(runs) == len(known.pictures)
    vectors = np.stack([r.embedding for r in read if r.embedding is not None])
    early = np.stack([r.early for r in read if r.early is not None])
    examples = [frozenset([label]) for label in known.labels]
    head = train(
        ClassifierKind.MULTICLASS,
        vectors,
        examples,
        ["0", "1"],
        early=early,
        candidates=EARLY_CANDIDATES,
    ).head
    assert head.input is InputKind.EMBEDDING_EARLY

    data = png(unseen.pictures[0])
    sent = picture_inputs(data, decoder, model)
    with decoder.picture(data) as picture:
        shared = TagsAnalyzer(models).analyze(picture, {}).prediction
    from_tags = PictureInputs(shared.features, None, shared.early)
    assert sent.early is not None
    np.testing.assert_allclose(shared.early, sent.early, atol=1e-5)
    labels, _ = prediction(head, sent, threshold=0.0)
    again, _ = prediction(head, from_tags, threshold=0.0)
    assert [(label.name, label.confidence) for label in labels] == [
        (label.name, label.confidence) for label in again
    ]
