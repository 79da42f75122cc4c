"""The catalog interface: images, their per-feature results, blob references and the outbox.

Every method is one transaction. Methods that write an event do so in the same transaction as
the change it describes (the outbox), so a committed upload always has its "created" event.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sightline.catalog.text_search import SearchPage, SearchQuery

JSON = dict[str, Any]
Vector = npt.NDArray[np.float32]


class ImageStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class FeatureStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


TERMINAL_FEATURE_STATES = frozenset(
    {FeatureStatus.DONE, FeatureStatus.FAILED, FeatureStatus.SKIPPED}
)


def image_status(features: Sequence[FeatureStatus]) -> ImageStatus:
    """`failed` as soon as every feature ended and one of them failed; the map says which."""
    if all(state in TERMINAL_FEATURE_STATES for state in features):
        failed = any(state is FeatureStatus.FAILED for state in features)
        return ImageStatus.FAILED if failed else ImageStatus.DONE
    if all(state is FeatureStatus.PENDING for state in features):
        return ImageStatus.PENDING
    return ImageStatus.PROCESSING


@dataclass(frozen=True)
class FeatureState:
    feature: str
    status: FeatureStatus
    analyzer: str
    version: str
    result: JSON | None = None
    error: JSON | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ImageRecord:
    id: str
    sha256: str
    filename: str | None
    content_type: str
    format: str
    size: int
    width: int
    height: int
    status: ImageStatus
    client_metadata: JSON
    duplicate_of: str | None
    created_at: datetime
    updated_at: datetime
    features: dict[str, FeatureState] = field(default_factory=dict)


@dataclass(frozen=True)
class NewImage:
    id: str
    sha256: str
    filename: str | None
    content_type: str
    format: str
    size: int
    width: int
    height: int
    client_metadata: JSON
    features: Sequence[FeatureState]


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    role: str


@dataclass(frozen=True)
class ImageQuery:
    status: ImageStatus | None = None
    content_type: str | None = None
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None
    before_id: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class StoredVector:
    """A feature's vector for one image; `seq` orders writes, so readers catch up by it."""

    seq: int
    image_id: str
    vector: Vector


class NearestVectors(Protocol):
    """Nearest-neighbour search that a catalog's database runs itself (pgvector), shared by every
    process; catalogs without one are searched by an index in each process."""

    def nearest(
        self, feature: str, version: str, vector: Vector, k: int, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        """Up to `k` (image id, cosine similarity) of this space, most similar first, none of
        them deleted or excluded."""

    def prepare(self, feature: str, version: str) -> None:
        """Get the space ready for fast searches (build what it needs), e.g. at start-up."""


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    envelope: JSON


class BlobKeeper(Protocol):
    """Blob-store side effects the catalog runs while it holds a blob's row lock."""

    def ensure(self, sha256: str) -> None:
        """Make sure the blob exists, writing it again if a concurrent delete removed it."""

    def discard(self, sha256: str) -> None:
        """Remove a blob that nothing references any more."""


class Catalog(Protocol):
    def add_images(
        self, images: Sequence[NewImage], events: Sequence[JSON], keeper: BlobKeeper
    ) -> list[ImageRecord]:
        """Insert all images (or none), each with its original's blob reference and events."""

    def get_image(self, image_id: str) -> ImageRecord | None: ...

    def list_images(self, query: ImageQuery) -> list[ImageRecord]:
        """Newest first (by id, which sorts by upload time), `before_id` for the next page."""

    def search(self, query: SearchQuery) -> SearchPage:
        """Images by the words in their results and by filters (see `text_search`)."""

    def image_ids_after(self, after_image_id: str, limit: int) -> list[str]:
        """Image ids in ascending order (oldest first), for walking every image in pages."""

    def delete_image(self, image_id: str, event: JSON, keeper: BlobKeeper) -> ImageRecord | None:
        """Remove the image, its results and references; then, once that is committed, discard
        the blobs it left unreferenced."""

    def request_features(
        self, image_id: str, features: Sequence[FeatureState], event: JSON
    ) -> ImageRecord | None:
        """Reset these features to pending (for reprocessing) and record the request event."""

    def start_features(self, image_id: str, features: Sequence[str]) -> ImageRecord | None:
        """Mark these features running; None if the image no longer exists."""

    def finish_features(
        self,
        image_id: str,
        outcomes: Sequence[FeatureState],
        blob_refs: Sequence[BlobRef],
        keeper: BlobKeeper,
        completion_event_id: str,
        phash: str | None = None,
    ) -> ImageRecord | None:
        """Upsert outcomes (re-running never duplicates), replace derived blob references, index
        the perceptual hash, and emit analyzed/failed once every feature has ended."""

    def release_blobs(self, shas: Sequence[str], keeper: BlobKeeper) -> None:
        """Discard those of these blobs that nothing references: cleanup after a failed write,
        and after deletions and replaced results once they are committed."""

    def near_duplicates(self, image_id: str, max_distance: int) -> list[tuple[str, int]]:
        """Other images whose perceptual hash is within `max_distance` bits, nearest first."""

    def status_counts(self) -> dict[ImageStatus, int]: ...

    def vectors_after(
        self, feature: str, version: str, after_seq: int, limit: int
    ) -> list[StoredVector]:
        """Vectors of one space (feature, version) written after `after_seq`, in seq order."""

    def vector_of(self, image_id: str, feature: str) -> tuple[str, Vector] | None:
        """The image's vector for this feature, with the version that made it."""

    def vectors_of(self, image_ids: Sequence[str], feature: str) -> dict[str, tuple[str, Vector]]:
        """`vector_of` for many images at once; images without one are left out."""

    def vector_versions(self, feature: str) -> dict[str, int]:
        """How many images have a vector of this feature, per version."""

    def images_with_other_vectors(
        self, feature: str, version: str, after_image_id: str, limit: int
    ) -> list[str]:
        """Images whose vector of this feature was made by another version, in id order."""

    def vector_search(self) -> NearestVectors | None:
        """The database's own nearest-neighbour search, if it has one."""


class EventLog(Protocol):
    def record_events(self, events: Sequence[JSON]) -> None:
        """Store events on their own (each once, by id), e.g. requests for background work."""

    def undispatched_events(self, limit: int) -> list[StoredEvent]: ...

    def mark_dispatched(
        self, seqs: Sequence[int], *, finished: Sequence[int] = (), epoch: str | None = None
    ) -> bool:
        """Mark events relayed; those in `finished` asked for no job, so they are done too.

        With `epoch` (the queue's, read before the jobs were enqueued), nothing is marked and
        False is returned if the catalog has meanwhile seen the queue lose its data: the jobs
        may have been enqueued into the lost queue after another relay handed back the
        unfinished ones, so the events must stay undispatched and be relayed again."""

    def mark_jobs_finished(self, event_ids: Sequence[str]) -> None:
        """The jobs these events asked for are over (done, or dead-lettered)."""

    def redispatch_unfinished(self) -> int:
        """Hand every relayed event whose job never finished to the relay again, for a queue
        that lost its jobs; returns how many. Enqueueing is idempotent, so jobs the queue still
        holds are not doubled."""

    def sync_queue_epoch(self, epoch: str) -> int | None:
        """Remember the queue's epoch; if it differs from the one remembered (the queue lost its
        data), `redispatch_unfinished` in the same transaction. Returns the count, or None when
        the epoch was already known."""

    def events_after(self, seq: int, limit: int) -> list[StoredEvent]: ...

    def last_event_seq(self) -> int: ...

    def prune_events(self, older_than: datetime) -> int:
        """Delete finished events older than the cut-off; returns how many."""


# -- custom classifiers ----------------------------------------------------------------------


class VersionStatus(StrEnum):
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ClassifierRecord:
    id: str
    name: str
    kind: str
    description: str
    published_version: int | None
    run_on_upload: bool
    created_at: datetime
    updated_at: datetime
    label_counts: dict[str, int] = field(default_factory=dict)  # examples per label
    example_count: int = 0  # labelled images


@dataclass(frozen=True)
class ClassifierVersion:
    classifier_id: str
    number: int
    status: VersionStatus
    threshold: float
    labels: list[str]
    example_count: int
    embedding_version: str
    metrics: JSON | None
    head: bytes | None
    error: JSON | None
    seconds: float | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class Published:
    """A classifier with a published version: what the pipeline needs, in one cheap read."""

    id: str
    name: str
    version: int
    run_on_upload: bool


@dataclass(frozen=True)
class Example:
    image_id: str
    labels: tuple[str, ...]


class ClassifierStore(Protocol):
    """Classifiers, their labelled examples and trained versions. Versions are immutable once
    finished; deleting a classifier removes its examples, versions and prediction results."""

    def create(
        self, classifier_id: str, name: str, kind: str, description: str
    ) -> ClassifierRecord:
        """Raises `ClassifierExists` when the name is taken."""

    def get(self, classifier_id: str) -> ClassifierRecord | None: ...

    def by_name(self, name: str) -> ClassifierRecord | None: ...

    def list_classifiers(self) -> list[ClassifierRecord]: ...

    def published(self) -> dict[str, Published]:
        """Classifiers with a published version, by name."""

    def update(self, classifier_id: str, **changes: Any) -> ClassifierRecord | None:
        """Change `description`, `run_on_upload` or `published_version`."""

    def delete(self, classifier_id: str) -> ClassifierRecord | None: ...

    def add_examples(
        self, classifier_id: str, examples: Sequence[Example], *, single_label: bool
    ) -> list[bool]:
        """Label images (all or none written); per example, False when its image does not
        exist. `single_label` replaces an image's previous label (multiclass)."""

    def remove_examples(
        self, classifier_id: str, image_ids: Sequence[str], label: str | None
    ) -> int:
        """Remove these images' labels (only `label`, if given); returns rows removed."""

    def examples(
        self,
        classifier_id: str,
        *,
        label: str | None = None,
        after_image_id: str | None = None,
        limit: int | None = None,
    ) -> list[Example]:
        """Labelled images in image-id order (oldest first), each with all its labels."""

    def add_version(
        self,
        classifier_id: str,
        *,
        threshold: float,
        labels: Sequence[str],
        examples: Sequence[Example],
        embedding_version: str,
        event: JSON,
    ) -> ClassifierVersion:
        """A new `training` version numbered after the last, with the training request event."""

    def version(self, classifier_id: str, number: int) -> ClassifierVersion | None: ...

    def versions(self, classifier_id: str) -> list[ClassifierVersion]:
        """Newest first."""

    def version_examples(self, classifier_id: str, number: int) -> list[Example]:
        """The examples copied into the version when its training was requested."""

    def finish_version(
        self,
        classifier_id: str,
        number: int,
        *,
        metrics: JSON | None,
        head: bytes | None,
        error: JSON | None,
        seconds: float,
        event: JSON,
    ) -> ClassifierVersion | None:
        """Record the training outcome (ready with metrics and head, or failed with the error)
        and its event, once: a version that already finished is returned unchanged."""


# -- direct uploads --------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadRecord:
    """A presigned upload handed out: its id is the image's to be."""

    id: str
    inbox_key: str
    filename: str | None
    features: list[str]
    client_metadata: JSON
    created_at: datetime
    expires_at: datetime
    error: JSON | None = None


class UploadStore(Protocol):
    def create(self, record: UploadRecord) -> None: ...

    def get(self, upload_id: str) -> UploadRecord | None: ...

    def get_by_key(self, inbox_key: str) -> UploadRecord | None: ...

    def reserve(self, record: UploadRecord) -> UploadRecord:
        """Store the record unless one with its inbox key exists; return the one stored."""

    def reject(self, upload_id: str, error: JSON) -> None:
        """The object that arrived is not an acceptable image: say why, for the uploader."""


# -- event subscriptions ---------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class SubscriptionRecord:
    """Where to push which events: the filters, the delivery policy and the signing secret."""

    id: str
    name: str | None
    endpoint: str
    event_types: list[str]  # empty: every type
    subject_begins_with: str | None
    subject_ends_with: str | None
    data_filters: list[JSON]  # {"key", "operator", "values"}, all must match
    max_events_per_batch: int
    max_attempts: int
    event_ttl_minutes: float
    paused: bool
    secret: str
    created_at: datetime
    updated_at: datetime
    counts: dict[str, int] = field(default_factory=dict)  # deliveries kept, per status


@dataclass(frozen=True)
class DeliveryRecord:
    """One event on its way to one subscription."""

    id: str
    subscription_id: str
    event_seq: int
    event_id: str
    event_type: str
    subject: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    expires_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: float | None
    dead_letter_reason: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class Claim:
    """Deliveries of one subscription leased to one sender, with their events, in seq order."""

    subscription: SubscriptionRecord
    lease: str
    deliveries: list[DeliveryRecord]
    envelopes: list[JSON]


@dataclass(frozen=True)
class AttemptRecord:
    """One HTTP request to a subscription's endpoint (one batch), as the delivery log shows it."""

    subscription_id: str
    at: datetime
    attempt: int
    delivery_ids: list[str]
    status_code: int | None
    latency_ms: float | None
    error: str | None
    outcome: str
    id: int = 0  # given by the store


@dataclass(frozen=True)
class DeliveryUpdate:
    """What one attempt made of one claimed delivery."""

    delivery_id: str
    status: DeliveryStatus
    next_attempt_at: datetime  # pending: when to try again
    dead_letter_reason: str | None = None


@dataclass(frozen=True)
class Attempted:
    """One attempt at a claim, what it made of each delivery, and whether the sender wants the
    subscription's next due batch."""

    claim: Claim
    attempt: AttemptRecord
    updates: Sequence[DeliveryUpdate]
    claim_next: bool = False


class SubscriptionStore(Protocol):
    """Subscriptions, their deliveries (one per subscription and matching event) and the log of
    HTTP attempts. Deleting a subscription removes its deliveries and log; deliveries go with
    their event when the event log is pruned.

    Fan-out follows the event log by seq with a watermark, in the transaction that inserts the
    deliveries, so that several processes fanning out never skip or double an event. Senders
    claim due deliveries with a lease that runs out if they die."""

    def create(self, record: SubscriptionRecord) -> SubscriptionRecord:
        """Store it; it gets the events written after this call, none of those before."""

    def get(self, subscription_id: str) -> SubscriptionRecord | None: ...

    def list_subscriptions(self) -> list[SubscriptionRecord]:
        """Oldest first."""

    def update(self, subscription_id: str, **changes: Any) -> SubscriptionRecord | None:
        """Change any of the record's fields but the id, the counts and `created_at`."""

    def delete(self, subscription_id: str) -> bool: ...

    def delivery(self, subscription_id: str, delivery_id: str) -> DeliveryRecord | None: ...

    def deliveries(
        self,
        subscription_id: str,
        *,
        status: DeliveryStatus | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[DeliveryRecord]:
        """Newest event first; `before_seq` continues after the last one of a page."""

    def attempts(
        self, subscription_id: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[AttemptRecord]:
        """Newest first; `before_id` continues after the last one of a page."""

    def redeliver(
        self, subscription_id: str, delivery_ids: Sequence[str] | None, expires_at: datetime
    ) -> list[DeliveryRecord]:
        """Make these dead letters (all of them with None) pending again, as if new, living
        until `expires_at`; returns those requeued (those that were dead-lettered), as they are
        at that moment: a dispatcher may send them the next instant."""

    def fan_out(self, matches: Callable[[SubscriptionRecord, JSON], bool], limit: int) -> int:
        """Match up to `limit` events past the watermark against every subscription, insert a
        pending delivery per match and advance the watermark; returns how many events."""

    def claim(
        self, now: datetime, lease_until: datetime, *, exclude: Collection[str], most: int
    ) -> list[Claim]:
        """Lease due deliveries of up to `most` subscriptions not paused and not in `exclude`,
        each up to its batch size. A delivery is due when pending, unleased (or its lease ran
        out), at or past its next attempt and not expired, and no earlier event of its subject
        is still pending in its subscription."""

    def record(
        self, attempts: Sequence[Attempted], *, next_lease: timedelta | None = None
    ) -> list[Claim | None]:
        """Log the attempts and apply their outcomes to the deliveries still under their
        claims' leases, all in one transaction. A delivery waiting to retry holds back the later
        ones of its subject. With `next_lease`, each attempt that asks for it also gets its
        subscription's next due batch, leased for that long (None when nothing is due or the
        subscription is paused), in the order given. Attempts of subscriptions deleted since
        their claim are dropped (nothing logged, None as their next batch)."""

    def expire(self, now: datetime) -> int:
        """Dead-letter (`ttl_expired`) the unleased pending deliveries past their TTL."""

    def prune(self, older_than: datetime) -> int:
        """Delete attempts, and delivered deliveries, older than the cut-off."""
