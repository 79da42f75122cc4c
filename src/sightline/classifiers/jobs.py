"""Queued work for custom classifiers: training a version."""

from __future__ import annotations

import logging
import time

import numpy as np

from sightline.classifiers.features import picture_inputs
from sightline.classifiers.inputs import Glimpse
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
# Pixel heads are tried when the median example has at most this many pixels (1000 x 1000):
# decoding each example again costs about 7 ms per megapixel (JPEG, decode and glimpse, one
# core), where stored embeddings cost nothing: 2000 such examples add about 15 s.
PIXEL_INPUTS_MAX_PIXELS = 1_000_000


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
        examples, vectors, glimpses = self._inputs(
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
                glimpses=np.stack(glimpses) if glimpses else None,
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

    def _inputs(
        self, examples: list[Example], embedding_version: str, collection: str
    ) -> tuple[list[Example], list[Vector], list[Glimpse] | None]:
        """Each example's stored embedding (computed from the original when it has none of
        this version yet) and, when the examples are small pictures, each one's glimpse for the
        heads that read pixels (decoding every large photo again would make training slow,
        and on photos the embedding heads win). Examples whose image is gone are dropped."""
        stored = self.vectors.vectors_of([example.image_id for example in examples], EMBEDDING)
        records = {}
        for example in examples:
            try:
                records[example.image_id] = self.images.get(example.image_id, collection=collection)
            except ImageNotFound:
                continue
        sizes = [record.width * record.height for record in records.values()]
        read_pixels = bool(sizes) and float(np.median(sizes)) <= PIXEL_INPUTS_MAX_PIXELS
        kept, vectors, glimpses = [], [], []
        for example in examples:
            if example.image_id not in records:
                continue
            found = stored.get(example.image_id)
            current = found[1] if found is not None and found[0] == embedding_version else None
            seen = None
            if current is None or read_pixels:
                try:
                    computed, seen = self._read(example.image_id, collection, current is None)
                except (ImageNotFound, BlobNotFound):
                    continue
                current = current if computed is None else computed
            assert current is not None
            kept.append(example)
            vectors.append(current)
            if seen is not None:
                glimpses.append(seen)
        return kept, vectors, glimpses if read_pixels else None

    def _read(
        self, image_id: str, collection: str, embedding: bool
    ) -> tuple[Vector | None, Glimpse]:
        _record, blob = self.images.open_original(image_id, collection=collection)
        with blob:
            model = self.model if embedding else None
            return picture_inputs(blob.read(), self.images.decoder, model)
