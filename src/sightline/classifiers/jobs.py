"""Queued work for custom classifiers: training a version."""

from __future__ import annotations

import logging
import time

import numpy as np

from sightline.classifiers.features import PictureInputs, picture_inputs
from sightline.classifiers.inputs import Floats, Glimpse
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
# The embedding+early head is tried up to this many examples: its early features need the model
# run on every example again (decoding and the run: 29 ms for a 64 px PNG, 42 ms for a 512 px
# JPEG, one thread on a busy 2-core host), where stored embeddings cost nothing: 300 examples
# add about 10 s.
EARLY_INPUTS_MAX_EXAMPLES = 300


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
        examples, vectors, glimpses, early = self._inputs(
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
                early=np.stack(early) if early else None,
                threshold=version.threshold,
                example_ids=[example.image_id for example in examples],
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
    ) -> tuple[list[Example], list[Vector], list[Glimpse] | None, list[Floats] | None]:
        """Each example's stored embedding (computed from the original when it has none of
        this version yet); when the examples are small pictures, each one's glimpse for the
        heads that read pixels (decoding every large photo again would make training slow,
        and on photos the embedding heads win); when they are few, each one's early features
        from a model run. Examples whose image is gone are dropped."""
        stored = self.vectors.vectors_of([example.image_id for example in examples], EMBEDDING)
        records = {}
        for example in examples:
            try:
                records[example.image_id] = self.images.get(example.image_id, collection=collection)
            except ImageNotFound:
                continue
        sizes = [record.width * record.height for record in records.values()]
        read_pixels = bool(sizes) and float(np.median(sizes)) <= PIXEL_INPUTS_MAX_PIXELS
        read_early = len(records) <= EARLY_INPUTS_MAX_EXAMPLES
        kept, vectors, glimpses, early = [], [], [], []
        for example in examples:
            if example.image_id not in records:
                continue
            found = stored.get(example.image_id)
            current = found[1] if found is not None and found[0] == embedding_version else None
            if current is None or read_pixels or read_early:
                try:
                    picture = self._read(
                        example.image_id, collection, run_model=current is None or read_early
                    )
                except (ImageNotFound, BlobNotFound):
                    continue
                current = current if current is not None else picture.embedding
                if read_pixels and picture.glimpse is not None:
                    glimpses.append(picture.glimpse)
                if read_early and picture.early is not None:
                    early.append(picture.early)
            assert current is not None
            kept.append(example)
            vectors.append(current)
        return (
            kept,
            vectors,
            glimpses if read_pixels else None,
            early if read_early else None,
        )

    def _read(self, image_id: str, collection: str, *, run_model: bool) -> PictureInputs:
        _record, blob = self.images.open_original(image_id, collection=collection)
        with blob:
            model = self.model if run_model else None
            return picture_inputs(blob.read(), self.images.decoder, model)
