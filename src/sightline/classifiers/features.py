"""Custom classifiers as pipeline features: `custom:NAME` runs the published version's head on
the picture's embedding.

Which classifiers exist and which version is published changes while the service runs, so the
feature set is a live view: the bundled analyzers plus one analyzer per published classifier,
looked up in the store whenever a feature is resolved. Trained heads are immutable per
version, so each is loaded once and cached.

Classifiers belong to a collection, and two collections may each have one named `shop`: an
image's `custom:shop` is its own collection's, so features are resolved per collection
(`FeatureSet.of`).

A prediction::

    {"model": {"name": "custom:shop", "version": "3"}, "width": 640, "height": 480,
     "classifier": {"id": "clf_…", "name": "shop", "version": 3}, "kind": "multiclass",
     "threshold": 0.0, "labels": [{"name": "dress", "confidence": 0.91}, …],
     "predicted": ["dress"]}

`labels` lists every label, most likely first; `predicted` those at or above the version's
threshold. A multiclass version trained without a threshold has `threshold` 0: `predicted` is
its top label, always; trained with one, the top label only at or above it (else nothing).

A head that reads pixels (`inputs.InputKind`) gets the picture's glimpse, computed here from the
decoded picture; an embedding head reads only the `tags` pass's pooled features, and an
`embedding+early` head also its early features (`vision.tags.Prediction.early`), from the same
model run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import ValidationError

from sightline.classifiers.inputs import Floats, Glimpse, glimpse, head_input
from sightline.classifiers.store import (
    PREFIX,
    ClassifierRecord,
    ClassifierStore,
    ClassifierVersion,
    Published,
    prediction_feature,
)
from sightline.classifiers.training import ClassifierKind, Head
from sightline.errors import SkipFeature
from sightline.images.pipeline import RunOnUpload
from sightline.indexing import IndexEntries
from sightline.models import LazyModel
from sightline.storage.records import Vector
from sightline.vision import Decoder, geometry, registry
from sightline.vision.base import Analysis, Analyzer, Inputs, Picture, ResultPart
from sightline.vision.tags import Classifier, TagsAnalyzer, predict, shared_prediction
from sightline.vision.vectors import unit_length

HEAD_CACHE_SIZE = 64


@lru_cache(maxsize=HEAD_CACHE_SIZE)
def _head(classifier_id: str, number: int, data: bytes) -> Head:
    return Head.from_bytes(data)


def load_head(version: ClassifierVersion) -> Head:
    if version.head is None:
        raise ValueError(f"Version {version.number} has no trained head.")
    return _head(version.classifier_id, version.number, version.head)


@dataclass(frozen=True)
class PictureInputs:
    """What heads may read of one picture (`inputs.head_input`): its `embedding` vector, its
    glimpse, its early features; each None where not computed."""

    embedding: Vector | None
    glimpse: Glimpse | None = None
    early: Floats | None = None


def picture_inputs(
    data: bytes, decoder: Decoder, model: LazyModel[Classifier] | None
) -> PictureInputs:
    """An image file's glimpse (`inputs.glimpse`) and, with `model`, its `embedding` vector
    (unit length) and early features from one model run, all from one decoding: for pictures
    sent only to be predicted, for stored images whose head reads more than the embedding, and
    for training examples."""
    with decoder.picture(data) as picture:
        seen = glimpse(picture.rgb)
        if model is None:
            return PictureInputs(None, seen)
        with model.acquire() as loaded:
            output = predict(picture, loaded)
        return PictureInputs(unit_length(output.features).astype(np.float32), seen, output.early)


class ClassifierRef(ResultPart):
    id: str
    name: str
    version: int


class Verdict(ResultPart):
    """A classifier version's prediction for one picture (see the module docstring)."""

    classifier: ClassifierRef
    kind: str
    threshold: float
    labels: list[geometry.Label]
    predicted: list[str]


class CustomPrediction(Verdict, geometry.ModelResult):
    """The `custom:NAME` result: the header, then the verdict's fields."""

    def index_entries(self) -> IndexEntries:
        return IndexEntries(labels=self.predicted)


def index_entries(feature: str, result: dict[str, Any]) -> IndexEntries | None:
    """What a stored result adds to the catalog's indexes: custom classifiers' predictions,
    then whatever the bundled analyzers and user models declare (`registry.index_entries`).
    A prediction stored by older code that no longer fits is left out."""
    if not feature.startswith(PREFIX):
        return registry.index_entries(feature, result)
    try:
        return CustomPrediction.model_validate(result).index_entries()
    except ValidationError:
        return None


def prediction(
    head: Head, picture: PictureInputs, threshold: float
) -> tuple[list[geometry.Label], list[str]]:
    """Every label with its probability, best first, and the labels predicted at `threshold`
    (multiclass: the top label, if at or above it), from what the head reads of `picture`."""
    rows = head_input(
        head.input,
        None if picture.embedding is None else picture.embedding[None],
        None if picture.glimpse is None else picture.glimpse[None],
        None if picture.early is None else picture.early[None],
    )
    probabilities = head.probabilities(rows)[0]
    order = np.argsort(-probabilities, kind="stable")
    labels = [
        geometry.Label(name=head.labels[i], confidence=geometry.confidence(probabilities[i]))
        for i in order
    ]
    predicted = [head.labels[i] for i in order if probabilities[i] >= threshold]
    if head.kind is ClassifierKind.MULTICLASS:
        predicted = predicted[:1]
    return labels, predicted


class CustomClassifierAnalyzer:
    """One published version of a custom classifier, as the `custom:NAME` feature. Its head
    reads the classifier's pooled features, from the `tags` pass."""

    result_model = CustomPrediction
    depends_on = (TagsAnalyzer.name,)
    reuses = ()

    def __init__(
        self,
        classifier: ClassifierRecord,
        version: ClassifierVersion,
        embedding_version: str,
    ) -> None:
        self.name = prediction_feature(classifier.name)
        self.version = str(version.number)
        self.classifier = classifier
        self.trained = version
        self.embedding_version = embedding_version

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        if self.trained.embedding_version != self.embedding_version:
            raise SkipFeature(
                f"Version {self.trained.number} of {self.classifier.name!r} was trained on "
                f"embedding {self.trained.embedding_version}, this server computes "
                f"{self.embedding_version}: train a new version."
            )
        output = shared_prediction(inputs)
        head = load_head(self.trained)
        seen = glimpse(picture.rgb) if head.input.reads_pixels else None
        read = PictureInputs(output.features, seen, output.early)
        verdict = describe_prediction(self.classifier, self.trained, read)
        result = CustomPrediction(
            **geometry.header(picture, self.name, self.version), **dict(verdict)
        )
        return Analysis(result)


def describe_prediction(
    classifier: ClassifierRecord,
    version: ClassifierVersion,
    picture: PictureInputs,
) -> Verdict:
    labels, predicted = prediction(load_head(version), picture, version.threshold)
    return Verdict(
        classifier=ClassifierRef(id=classifier.id, name=classifier.name, version=version.number),
        kind=classifier.kind,
        threshold=version.threshold,
        labels=labels,
        predicted=predicted,
    )


class FeatureSet(Mapping[str, Analyzer]):
    """The features of every collection (`images.pipeline.Features`). As a mapping, the bundled
    analyzers, the same in every collection; `of(collection)` adds a `custom:NAME` analyzer for
    each classifier the collection published."""

    def __init__(
        self,
        bundled: Mapping[str, Analyzer],
        store: ClassifierStore,
        embedding_version: str,
    ) -> None:
        self.bundled = dict(bundled)
        self.store = store
        self.embedding_version = embedding_version
        self._lock = threading.Lock()
        self._analyzers: dict[str, CustomClassifierAnalyzer] = {}  # by classifier id
        self._run_on_upload: dict[str, RunOnUpload] = {}  # by collection, as last read

    def __getitem__(self, name: str) -> Analyzer:
        return self.bundled[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.bundled)

    def __len__(self) -> int:
        return len(self.bundled)

    def of(self, collection: str) -> CollectionFeatures:
        return CollectionFeatures(self, collection)

    def run_on_upload(self, collection: str) -> RunOnUpload:
        """Features of the collection's classifiers attached to its uploads (part of every
        default set there), read now and kept for `kept_run_on_upload`."""
        names, mark = self.store.run_on_upload(collection)
        found = RunOnUpload([prediction_feature(name) for name in names], mark)
        with self._lock:
            self._run_on_upload[collection] = found
        return found

    def kept_run_on_upload(self, collection: str) -> RunOnUpload:
        """What `run_on_upload` last read, without a read: an upload's reading would be a
        tenth of its catalog work, and the upload's write checks the mark anyway."""
        with self._lock:
            found = self._run_on_upload.get(collection)
        return found if found is not None else self.run_on_upload(collection)

    def analyzer(self, published: Published) -> CustomClassifierAnalyzer | None:
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
        analyzer = CustomClassifierAnalyzer(classifier, version, self.embedding_version)
        with self._lock:
            self._analyzers[published.id] = analyzer
        return analyzer


class CollectionFeatures(Mapping[str, Analyzer]):
    """The analyzers one collection's images may use: the bundled ones and a `custom:NAME`
    analyzer for each classifier the collection published."""

    def __init__(self, features: FeatureSet, collection: str) -> None:
        self.features = features
        self.collection = collection

    def __getitem__(self, name: str) -> Analyzer:
        if name in self.features.bundled:
            return self.features.bundled[name]
        if name.startswith(PREFIX):
            published = self.features.store.published(self.collection).get(
                name.removeprefix(PREFIX)
            )
            if published is not None:
                analyzer = self.features.analyzer(published)
                if analyzer is not None:
                    return analyzer
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        yield from self.features.bundled
        published = self.features.store.published(self.collection)
        yield from (prediction_feature(name) for name in published)

    def __len__(self) -> int:
        return len(self.features.bundled) + len(self.features.store.published(self.collection))
