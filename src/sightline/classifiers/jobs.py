"""Queued work for custom classifiers: training a version."""

from __future__ import annotations

import logging
import time

import numpy as np

from sightline.classifiers.features import embed
from sightline.classifiers.store import ClassifierStore, Example, VersionStatus
from sightline.classifiers.training import ClassifierKind, check_examples, train
from sightline.errors import BlobNotFound, ImageNotFound, SightlineError
from sightline.events import EventType, derived_event_id, subject_event
from sightline.images.pipeline import error_info
from sightline.images.service import ImageService
from sightline.models import LazyModel
from sightline.queue import Job
from sightline.search.vector_store import VectorStore
from sightline.storage.records import Vector
from sightline.vision.tags import Classifier

log = logging.getLogger(__name__)
EMBEDDING = "embedding"


class TrainJob:
    """Trains one requested version on the examples copied into it. Runs at least once: a
    version that already finished is left alone, so a repeated job changes nothing."""

    def __init__(
        self,
        store: ClassifierStore,
        vectors: VectorStore,
        images: ImageService,
        model: LazyModel[Classifier],
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.images = images
        self.model = model

    def process(self, job: Job) -> None:
        classifier_id, number = job.payload["classifier_id"], int(job.payload["version"])
        version = self.store.version(classifier_id, number)
        if version is None or version.status is not VersionStatus.TRAINING:
            return  # deleted, or finished by an earlier attempt
        classifier = self.store.get(classifier_id)
        if classifier is None:
            return
        started = time.perf_counter()
        examples, vectors = self._embeddings(
            self.store.version_examples(classifier_id, number),
            version.embedding_version,
            classifier.collection,
        )
        kind = ClassifierKind(classifier.kind)
        sets = [frozenset(example.labels) for example in examples]
        try:
            # Examples whose image was deleted since the request are gone: check again.
            check_examples(kind, version.labels, sets)
            result = train(
                kind,
                np.stack(vectors) if vectors else np.zeros((0, 0), np.float32),
                sets,
                version.labels,
                threshold=version.threshold,
            )
        except SightlineError as exc:
            self._finish(job, error=error_info(exc.code, exc.message), started=started)
            return
        self.store.finish_version(
            classifier_id,
            number,
            metrics=result.metrics,
            head=result.head.to_bytes(),
            error=None,
            seconds=time.perf_counter() - started,
            event=subject_event(
                EventType.CLASSIFIER_TRAINED,
                f"classifiers/{classifier_id}",
                {
                    "classifier_id": classifier_id,
                    "version": number,
                    "metrics": result.metrics.get("overall"),
                },
                collection=classifier.collection,
                event_id=derived_event_id(job.id, "trained"),
            ),
        )

    def give_up(self, job: Job, error: str) -> None:
        self._finish(job, error=error_info("TrainingFailed", error), started=time.perf_counter())

    def _finish(self, job: Job, *, error: dict[str, str], started: float) -> None:
        classifier_id, number = job.payload["classifier_id"], int(job.payload["version"])
        classifier = self.store.get(classifier_id)
        self.store.finish_version(
            classifier_id,
            number,
            metrics=None,
            head=None,
            error=error,
            seconds=time.perf_counter() - started,
            event=subject_event(
                EventType.CLASSIFIER_TRAINING_FAILED,
                f"classifiers/{classifier_id}",
                {"classifier_id": classifier_id, "version": number, "error": error},
                collection=classifier.collection if classifier else None,
                event_id=derived_event_id(job.id, "failed"),
            ),
        )

    def _embeddings(
        self, examples: list[Example], embedding_version: str, collection: str
    ) -> tuple[list[Example], list[Vector]]:
        """Each example's stored embedding; computed from the original when it has none of
        this version yet. Examples whose image is gone are dropped."""
        stored = self.vectors.vectors_of([example.image_id for example in examples], EMBEDDING)
        kept, vectors = [], []
        for example in examples:
            found = stored.get(example.image_id)
            if found is not None and found[0] == embedding_version:
                vector = found[1]
            else:
                try:
                    vector = self._compute(example.image_id, collection)
                except (ImageNotFound, BlobNotFound):
                    continue
            kept.append(example)
            vectors.append(vector)
        return kept, vectors

    def _compute(self, image_id: str, collection: str) -> Vector:
        _record, blob = self.images.open_original(image_id, collection=collection)
        with blob:
            return embed(blob.read(), self.model, self.images.settings.max_pixels)
