"""Predictions of a custom classifier: every label with its probability, and `predicted`, the
top label of a multiclass head unless a threshold was asked for."""

from __future__ import annotations

import numpy as np
from PIL import Image

from sightline.classifiers.features import prediction
from sightline.classifiers.inputs import InputKind, glimpse, head_input
from sightline.classifiers.training import ClassifierKind, Head, HeadModel

LABELS = ("cat", "dog", "fox")


def unsure() -> Head:
    """A multiclass head whose top label ("dog") has probability ~0.4."""
    weights = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.0]], np.float32)
    return Head(ClassifierKind.MULTICLASS, LABELS, weights, np.zeros(3, np.float32))


def test_multiclass_predicts_its_top_label_without_a_threshold() -> None:
    labels, predicted = prediction(unsure(), np.array([1.0, 0.0]), None, threshold=0.0)
    assert predicted == ["dog"]
    assert [label.name for label in labels][0] == "dog" and labels[0].confidence < 0.5


def test_multiclass_predicts_nothing_under_a_threshold_asked_for() -> None:
    _, predicted = prediction(unsure(), np.array([1.0, 0.0]), None, threshold=0.5)
    assert predicted == []
    _, predicted = prediction(unsure(), np.array([1.0, 0.0]), None, threshold=0.35)
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
        _, predicted = prediction(head, embedding, glimpse(picture), threshold=0.0)
        assert predicted == [name]
