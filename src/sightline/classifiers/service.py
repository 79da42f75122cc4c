"""Use cases of custom classifiers: create, label, train, evaluate, publish, predict, export.

Classifiers learn on the `embedding` feature's vectors, so training on photos never touches
pixels when the examples were analysed with embeddings (the default): a few thousand examples
train in seconds. Small pictures are decoded again for the heads that read pixels
(`training.PIXEL_CANDIDATES`, `jobs.PIXEL_INPUTS_MAX_PIXELS`), and a few hundred examples are
run through the model again for the head that reads its early features
(`training.EARLY_CANDIDATES`, `jobs.EARLY_INPUTS_MAX_EXAMPLES`). Training runs as a queued job;
the request checks the examples first, so "not enough examples" is an immediate 400, not a
failed job.

A classifier belongs to one collection, the one it was created in: its examples are images of
that collection and it predicts on them only. Every use case takes `collection`, the caller's
scope: another collection's classifier is not found (None: every collection's is). By id, a
classifier is found in any collection the caller sees; by name, in the caller's collection (the
default one for a caller bound to none), as names are unique per collection only.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sightline.classifiers.export import to_onnx
from sightline.classifiers.features import (
    PictureInputs,
    describe_prediction,
    load_head,
    picture_inputs,
)
from sightline.classifiers.inputs import InputKind
from sightline.classifiers.store import (
    ClassifierRecord,
    ClassifierStore,
    ClassifierVersion,
    Example,
    VersionStatus,
    prediction_feature,
)
from sightline.classifiers.training import ClassifierKind, HeadModel, check_examples
from sightline.collection import DEFAULT_COLLECTION
from sightline.errors import (
    ClassifierNotFound,
    ClassifierVersionNotFound,
    HeadNotExportable,
    InvalidParameter,
    NotReady,
    SightlineError,
)
from sightline.events import EventType, subject_event
from sightline.images.service import ImageService, Upload
from sightline.models import LazyModel
from sightline.search.vector_store import VectorStore
from sightline.storage.outbox import EventLog
from sightline.storage.records import JSON, FeatureStatus
from sightline.storage.tables import MAX_LABEL_LENGTH
from sightline.vision.tags import MODEL as EMBEDDING_MODEL
from sightline.vision.tags import Classifier

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_DESCRIPTION_LENGTH = 1024
EXAMPLES_FEATURE = "embedding"
ID_PREFIX = "clf_"
EXPORTABLE = "embedding/linear"
NO_THRESHOLD = 0.0  # a multiclass version trained without one: its top label is predicted
MULTILABEL_THRESHOLD = 0.5


@dataclass(frozen=True)
class ItemOutcome:
    """One item of a batch: `status` is the HTTP status it would have had on its own."""

    index: int
    status: int
    image_id: str | None = None
    error: JSON | None = None


def classifier_subject(classifier_id: str) -> str:
    return f"classifiers/{classifier_id}"


class ClassifierService:
    def __init__(
        self,
        store: ClassifierStore,
        events: EventLog,
        vectors: VectorStore,
        images: ImageService,
        model: LazyModel[Classifier],
        embedding_version: str,
        on_event: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.events = events
        self.vectors = vectors
        self.images = images
        self.model = model
        self.embedding_version = embedding_version
        self.on_event = on_event

    # -- classifiers ---------------------------------------------------------------------------

    def create(
        self, name: str, kind: str, description: str = "", *, collection: str
    ) -> ClassifierRecord:
        if not NAME.fullmatch(name) or name.startswith(ID_PREFIX):
            raise InvalidParameter(
                "A classifier name is 1-64 letters, digits, '_', '-' or '.', starting with a "
                f"letter or digit, and not with {ID_PREFIX!r}.",
                name=name,
            )
        try:
            kind = ClassifierKind(kind)
        except ValueError:
            raise InvalidParameter(
                f"Unknown kind {kind!r}: use multiclass or multilabel.",
                allowed=[str(k) for k in ClassifierKind],
            ) from None
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidParameter(f"The description is over {MAX_DESCRIPTION_LENGTH} characters.")
        classifier_id = f"{ID_PREFIX}{secrets.token_hex(8)}"
        return self.store.create(classifier_id, name, str(kind), description, collection)

    def get(self, key: str, *, collection: str | None) -> ClassifierRecord:
        """By id (`clf_…`) or by name (see the module docstring)."""
        if key.startswith(ID_PREFIX):
            record = self.store.get(key, collection)
        else:
            record = self.store.by_name(key, collection or DEFAULT_COLLECTION)
        if record is None:
            raise ClassifierNotFound(f"No classifier {key!r}.")
        return record

    def list_classifiers(self, *, collection: str | None) -> list[ClassifierRecord]:
        return self.store.list_classifiers(collection)

    def update(
        self,
        key: str,
        *,
        collection: str | None,
        description: str | None = None,
        run_on_upload: bool | None = None,
    ) -> ClassifierRecord:
        record = self.get(key, collection=collection)
        changes: JSON = {}
        if description is not None:
            if len(description) > MAX_DESCRIPTION_LENGTH:
                raise InvalidParameter(
                    f"The description is over {MAX_DESCRIPTION_LENGTH} characters."
                )
            changes["description"] = description
        if run_on_upload is not None:
            if run_on_upload and record.published_version is None:
                raise NotReady("Publish a version before running the classifier on uploads.")
            changes["run_on_upload"] = run_on_upload
        if not changes:
            return record
        return self._updated(self.store.update(record.id, **changes), record.id)

    def delete(self, key: str, *, collection: str | None) -> None:
        record = self.get(key, collection=collection)
        if self.store.delete(record.id) is None:
            raise ClassifierNotFound(f"No classifier {key!r}.")

    # -- examples ------------------------------------------------------------------------------

    def add_examples(
        self, key: str, items: Sequence[tuple[str, Sequence[str]]], *, collection: str | None
    ) -> list[ItemOutcome]:
        """Label existing images of the classifier's collection; each item succeeds or fails on
        its own (a 207 answer)."""
        record = self.get(key, collection=collection)
        outcomes: dict[int, ItemOutcome] = {}
        valid: list[tuple[int, Example]] = []
        for index, (image_id, labels) in enumerate(items):
            try:
                valid.append((index, Example(image_id, self._labels(record, labels))))
            except SightlineError as exc:
                outcomes[index] = _failure(index, exc, image_id)
        added = self.store.add_examples(
            record.id,
            [example for _, example in valid],
            single_label=record.kind == ClassifierKind.MULTICLASS,
        )
        for (index, example), found in zip(valid, added, strict=True):
            if found:
                outcomes[index] = ItemOutcome(index, 201, example.image_id)
            else:
                error = {"code": "ImageNotFound", "message": f"No image {example.image_id!r}."}
                outcomes[index] = ItemOutcome(index, 404, example.image_id, error)
        labelled = [
            example.image_id for (_, example), found in zip(valid, added, strict=True) if found
        ]
        self._ensure_embeddings(labelled, record.collection)
        return [outcomes[index] for index in range(len(items))]

    def upload_examples(
        self,
        key: str,
        uploads: Sequence[Upload],
        labels: Sequence[str],
        *,
        collection: str | None,
    ) -> list[ItemOutcome]:
        """Store each file as a new image of the classifier's collection (with an embedding) and
        label it; a bad file fails alone, the others are kept."""
        record = self.get(key, collection=collection)
        clean = self._labels(record, labels)
        defaults = self.images.defaults(record.collection)
        features = list(dict.fromkeys([*defaults, EXAMPLES_FEATURE]))
        outcomes = []
        for index, upload in enumerate(uploads):
            try:
                ingested = self.images.ingest([upload], features, collection=record.collection)
                image = ingested[0].image
            except SightlineError as exc:
                outcomes.append(_failure(index, exc, None))
                continue
            self.store.add_examples(
                record.id,
                [Example(image.id, clean)],
                single_label=record.kind == ClassifierKind.MULTICLASS,
            )
            outcomes.append(ItemOutcome(index, 201, image.id))
        return outcomes

    def remove_examples(
        self,
        key: str,
        image_ids: Sequence[str],
        label: str | None = None,
        *,
        collection: str | None,
    ) -> int:
        record = self.get(key, collection=collection)
        if not image_ids:
            raise InvalidParameter("Name at least one image_id.")
        return self.store.remove_examples(record.id, image_ids, label)

    def examples(
        self,
        key: str,
        label: str | None,
        after: str | None,
        limit: int,
        *,
        collection: str | None,
    ) -> list[Example]:
        record = self.get(key, collection=collection)
        return self.store.examples(record.id, label=label, after_image_id=after, limit=limit)

    # -- versions ------------------------------------------------------------------------------

    def train(
        self, key: str, threshold: float | None = None, *, collection: str | None
    ) -> ClassifierVersion:
        """A new version, trained in the background. `threshold`: the probability at which a
        label counts as predicted; without one, a multiclass version predicts its top label
        whatever its probability (stored as threshold 0) and a multilabel one uses
        `MULTILABEL_THRESHOLD`."""
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise InvalidParameter("The threshold must be between 0 and 1 (exclusive).")
        record = self.get(key, collection=collection)
        if threshold is None:
            multiclass = record.kind == ClassifierKind.MULTICLASS
            threshold = NO_THRESHOLD if multiclass else MULTILABEL_THRESHOLD
        examples = self.store.examples(record.id)
        labels = sorted(record.label_counts)
        kind = ClassifierKind(record.kind)
        check_examples(kind, labels, [frozenset(example.labels) for example in examples])
        event = subject_event(
            EventType.CLASSIFIER_TRAINING_REQUESTED,
            classifier_subject(record.id),
            {"classifier_id": record.id, "name": record.name},
            collection=record.collection,
        )
        version = self.store.add_version(
            record.id,
            threshold=threshold,
            labels=labels,
            examples=examples,
            embedding_version=self.embedding_version,
            event=event,
        )
        self.on_event()
        return version

    def versions(self, key: str, *, collection: str | None) -> list[ClassifierVersion]:
        return self.store.versions(self.get(key, collection=collection).id)

    def version(self, key: str, number: int, *, collection: str | None) -> ClassifierVersion:
        record = self.get(key, collection=collection)
        version = self.store.version(record.id, number)
        if version is None:
            raise ClassifierVersionNotFound(f"Classifier {key!r} has no version {number}.")
        return version

    def publish(self, key: str, number: int, *, collection: str | None) -> ClassifierRecord:
        version = self._ready(key, number, collection)
        return self._updated(
            self.store.update(version.classifier_id, published_version=version.number), key
        )

    def unpublish(self, key: str, *, collection: str | None) -> ClassifierRecord:
        """No version is published any more: predictions by the published version stop, and so
        do predictions on uploads, which need one."""
        record = self.get(key, collection=collection)
        return self._updated(
            self.store.update(record.id, published_version=None, run_on_upload=False), key
        )

    def backfill(
        self, key: str, only_missing: bool = True, *, collection: str | None
    ) -> ClassifierRecord:
        """Predict on the images of its collection already stored, in the background (a queued
        job)."""
        record = self.get(key, collection=collection)
        if record.published_version is None:
            raise NotReady("Publish a version before backfilling its predictions.")
        event = subject_event(
            EventType.CLASSIFIER_BACKFILL_REQUESTED,
            classifier_subject(record.id),
            {
                "classifier_id": record.id,
                "feature": prediction_feature(record.name),
                "only_missing": only_missing,
                "collection": record.collection,
            },
            collection=record.collection,
        )
        self.events.record_events([event])
        self.on_event()
        return record

    # -- predictions ---------------------------------------------------------------------------

    def predict(
        self,
        key: str,
        *,
        collection: str | None,
        data: bytes | None = None,
        image_id: str | None = None,
        number: int | None = None,
    ) -> JSON:
        """Label probabilities for an uploaded picture or a stored image (of the classifier's
        collection), by the published version (or `number`)."""
        record = self.get(key, collection=collection)
        if number is None:
            if record.published_version is None:
                raise NotReady("No version is published: name one, or publish one first.")
            number = record.published_version
        version = self._ready(record.id, number, record.collection)
        if version.embedding_version != self.embedding_version:
            raise NotReady(
                f"Version {number} was trained on embedding {version.embedding_version}; this "
                f"server computes {self.embedding_version}: train a new version."
            )
        reads = load_head(version).input
        if data is not None:
            picture = picture_inputs(data, self.images.decoder, self.model)
        elif image_id is not None:
            picture = self._image_inputs(image_id, record.collection, reads)
        else:
            raise InvalidParameter("Send an image, or name a stored one by image_id.")
        verdict = describe_prediction(record, version, picture)
        return verdict.model_dump(mode="json")

    def export(self, key: str, number: int, *, collection: str | None) -> tuple[str, bytes]:
        """A zip of the version's head as ONNX (input: the embedding) and its labels."""
        record = self.get(key, collection=collection)
        version = self._ready(record.id, number, record.collection)
        head = load_head(version)
        if head.input is not InputKind.EMBEDDING or head.model is not HeadModel.LINEAR:
            raise HeadNotExportable(
                f"Version {number}'s head is {head.name}: only {EXPORTABLE} heads export as ONNX "
                "(the others read pixels or keep their training examples).",
                head=head.name,
            )
        model = to_onnx(
            head,
            embedding_model={"name": EMBEDDING_MODEL, "feature_version": self.embedding_version},
            threshold=version.threshold,
        )
        info = {
            "classifier": record.name,
            "kind": record.kind,
            "version": version.number,
            "threshold": version.threshold,
            "labels": version.labels,
            "input": f"the `{EXAMPLES_FEATURE}` feature's vector, version "
            f"{version.embedding_version} ({EMBEDDING_MODEL})",
            "metrics": version.metrics,
        }
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr("model.onnx", model)
            bundle.writestr("labels.txt", "".join(f"{label}\n" for label in version.labels))
            bundle.writestr("classifier.json", json.dumps(info, indent=2) + "\n")
        return f"{record.name}-v{version.number}.zip", archive.getvalue()

    # -- helpers -------------------------------------------------------------------------------

    def _labels(self, record: ClassifierRecord, labels: Sequence[str]) -> tuple[str, ...]:
        clean = tuple(dict.fromkeys(label.strip() for label in labels if label.strip()))
        if not clean:
            raise InvalidParameter("Give each example at least one label.")
        too_long = [label for label in clean if len(label) > MAX_LABEL_LENGTH]
        if too_long:
            raise InvalidParameter(f"Labels are at most {MAX_LABEL_LENGTH} characters.")
        if record.kind == ClassifierKind.MULTICLASS and len(clean) != 1:
            raise InvalidParameter(
                "A multiclass classifier takes exactly one label per image.", labels=list(clean)
            )
        return clean

    def _ensure_embeddings(self, image_ids: Sequence[str], collection: str) -> None:
        """Examples without a current embedding get one computed in the background, so
        training finds it cached."""
        stored = self.vectors.vectors_of(image_ids, EXAMPLES_FEATURE)
        for image_id in dict.fromkeys(image_ids):
            found = stored.get(image_id)
            if found is not None and found[0] == self.embedding_version:
                continue
            record = self.images.get(image_id, collection=collection)
            state = record.features.get(EXAMPLES_FEATURE)
            if state is None or state.status not in (FeatureStatus.PENDING, FeatureStatus.RUNNING):
                self.images.reprocess(image_id, [EXAMPLES_FEATURE], collection=collection)

    def _image_inputs(self, image_id: str, collection: str, reads: InputKind) -> PictureInputs:
        """What a head reading `reads` needs of a stored image: its embedding (its stored vector
        when current), its glimpse for a head that reads pixels, its early features (a model
        run) for one that reads them."""
        record = self.images.get(image_id, collection=collection)
        found = self.vectors.vector_of(record.id, EXAMPLES_FEATURE)
        current = found[1] if found is not None and found[0] == self.embedding_version else None
        if current is not None and not (reads.reads_pixels or reads.reads_early):
            return PictureInputs(current)
        _, blob = self.images.open_original(record.id, collection=collection)
        with blob:
            model = self.model if current is None or reads.reads_early else None
            picture = picture_inputs(blob.read(), self.images.decoder, model)
        if current is None:
            return picture
        return PictureInputs(current, picture.glimpse, picture.early)

    def _ready(self, key: str, number: int, collection: str | None) -> ClassifierVersion:
        version = self.version(key, number, collection=collection)
        if version.status is not VersionStatus.READY:
            raise NotReady(
                f"Version {number} is {version.status}"
                + (f": {version.error['message']}" if version.error else ".")
            )
        return version

    def _updated(self, record: ClassifierRecord | None, key: str) -> ClassifierRecord:
        if record is None:
            raise ClassifierNotFound(f"No classifier {key!r}.")
        return record


def _failure(index: int, exc: SightlineError, image_id: str | None) -> ItemOutcome:
    return ItemOutcome(index, exc.status_code, image_id, {"code": exc.code, "message": exc.message})
