"""Custom classifiers as pipeline features: `custom:NAME` runs the published version's head on
the picture's embedding.

Which classifiers exist and which version is published changes while the service runs, so the
feature set is a live view: the bundled analyzers plus one analyzer per published classifier,
looked up in the store whenever a feature is resolved. Trained heads are immutable per
version, so each is loaded once and cached.

A prediction::

    {"model": {"name": "custom:shop", "version": "3"}, "width": 640, "height": 480,
     "classifier": {"id": "clf_…", "name": "shop", "version": 3}, "kind": "multiclass",
     "threshold": 0.5, "labels": [{"name": "dress", "confidence": 0.91}, …],
     "predicted": ["dress"]}

`labels` lists every label, most likely first; `predicted` those at or above the version's
threshold (for a multiclass classifier at most the top one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache

import numpy as np

from sightline.classifiers.store import (
    ClassifierRecord,
    ClassifierStore,
    ClassifierVersion,
    Published,
    prediction_feature,
)
from sightline.classifiers.training import ClassifierKind, Head
from sightline.errors import SkipFeature
from sightline.models import LazyModel
from sightline.storage.records import Vector
from sightline.vision import decode, geometry
from sightline.vision.base import JSON, Analyzer, Picture
from sightline.vision.tags import Classifier, predict
from sightline.vision.vectors import unit_length

PREFIX = "custom:"
HEAD_CACHE_SIZE = 64


@lru_cache(maxsize=HEAD_CACHE_SIZE)
def _head(classifier_id: str, number: int, data: bytes) -> Head:
    return Head.from_bytes(data)


def load_head(version: ClassifierVersion) -> Head:
    if version.head is None:
        raise ValueError(f"Version {version.number} has no trained head.")
    return _head(version.classifier_id, version.number, version.head)


def embed(data: bytes, model: LazyModel[Classifier], max_pixels: int) -> Vector:
    """An image file's `embedding` vector (unit length), computed now: for pictures sent only
    to be predicted, and for examples whose stored embedding is missing or outdated."""
    picture = decode(data, max_bytes=len(data), max_pixels=max_pixels)
    with model.acquire() as loaded:
        return unit_length(predict(picture, loaded).features).astype(np.float32)


def prediction(head: Head, vector: np.ndarray, threshold: float) -> tuple[list[JSON], list[str]]:
    """Every label with its probability, best first, and the labels predicted at `threshold`."""
    probabilities = head.probabilities(unit_length(vector)[None, :].astype(np.float32))[0]
    order = np.argsort(-probabilities, kind="stable")
    labels = [
        {"name": head.labels[i], "confidence": geometry.confidence(probabilities[i])} for i in order
    ]
    predicted = [head.labels[i] for i in order if probabilities[i] >= threshold]
    if head.kind is ClassifierKind.MULTICLASS:
        predicted = predicted[:1]
    return labels, predicted


class CustomClassifierAnalyzer:
    """One published version of a custom classifier, as the `custom:NAME` feature."""

    def __init__(
        self,
        classifier: ClassifierRecord,
        version: ClassifierVersion,
        model: LazyModel[Classifier],
        embedding_version: str,
    ) -> None:
        self.name = prediction_feature(classifier.name)
        self.version = str(version.number)
        self.classifier = classifier
        self.trained = version
        self.model = model
        self.embedding_version = embedding_version

    def analyze(self, picture: Picture) -> JSON:
        if self.trained.embedding_version != self.embedding_version:
            raise SkipFeature(
                f"Version {self.trained.number} of {self.classifier.name!r} was trained on "
                f"embedding {self.trained.embedding_version}, this server computes "
                f"{self.embedding_version}: train a new version."
            )
        with self.model.acquire() as loaded:
            vector = predict(picture, loaded).features
        return {
            **geometry.header(picture, self.name, self.version),
            **describe_prediction(self.classifier, self.trained, vector),
        }


def describe_prediction(
    classifier: ClassifierRecord, version: ClassifierVersion, vector: np.ndarray
) -> JSON:
    labels, predicted = prediction(load_head(version), vector, version.threshold)
    return {
        "classifier": {"id": classifier.id, "name": classifier.name, "version": version.number},
        "kind": classifier.kind,
        "threshold": version.threshold,
        "labels": labels,
        "predicted": predicted,
    }


class FeatureSet(Mapping[str, Analyzer]):
    """The bundled analyzers plus a `custom:NAME` analyzer for every published classifier."""

    def __init__(
        self,
        bundled: Mapping[str, Analyzer],
        store: ClassifierStore,
        model: LazyModel[Classifier],
        embedding_version: str,
    ) -> None:
        self.bundled = dict(bundled)
        self.store = store
        self.model = model
        self.embedding_version = embedding_version
        self._lock = threading.Lock()
        self._analyzers: dict[str, CustomClassifierAnalyzer] = {}  # by classifier id

    def __getitem__(self, name: str) -> Analyzer:
        if name in self.bundled:
            return self.bundled[name]
        if name.startswith(PREFIX):
            published = self.store.published().get(name.removeprefix(PREFIX))
            if published is not None:
                analyzer = self._analyzer(published)
                if analyzer is not None:
                    return analyzer
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        yield from self.bundled
        yield from (prediction_feature(name) for name in self.store.published())

    def __len__(self) -> int:
        return len(self.bundled) + len(self.store.published())

    def run_on_upload(self) -> list[str]:
        """Features of the classifiers attached to the pipeline: part of every default set."""
        return [
            prediction_feature(name)
            for name, published in self.store.published().items()
            if published.run_on_upload
        ]

    def _analyzer(self, published: Published) -> CustomClassifierAnalyzer | None:
        """The analyzer of the published version, built once per version (versions are
        immutable; a newly published one replaces the classifier's cached analyzer)."""
        with self._lock:
            found = self._analyzers.get(published.id)
        if found is not None and found.trained.number == published.version:
            return found
        classifier = self.store.get(published.id)
        version = self.store.version(published.id, published.version)
        if classifier is None or version is None:
            return None  # deleted meanwhile
        analyzer = CustomClassifierAnalyzer(classifier, version, self.model, self.embedding_version)
        with self._lock:
            self._analyzers[published.id] = analyzer
        return analyzer
