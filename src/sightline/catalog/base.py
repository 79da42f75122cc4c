"""The catalog interface: images, their per-feature results, blob references and the outbox.

Every method is one transaction. Methods that write an event do so in the same transaction as
the change it describes (the outbox), so a committed upload always has its "created" event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

JSON = dict[str, Any]


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

    def delete_image(self, image_id: str, event: JSON, keeper: BlobKeeper) -> ImageRecord | None:
        """Remove the image, its results and references; discard blobs left unreferenced."""

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
        """Discard those of these blobs that nothing references: cleanup after a failed write."""

    def near_duplicates(self, image_id: str, max_distance: int) -> list[tuple[str, int]]:
        """Other images whose perceptual hash is within `max_distance` bits, nearest first."""

    def status_counts(self) -> dict[ImageStatus, int]: ...


class EventLog(Protocol):
    def undispatched_events(self, limit: int) -> list[StoredEvent]: ...

    def mark_dispatched(self, seqs: Sequence[int]) -> None: ...

    def events_after(self, seq: int, limit: int) -> list[StoredEvent]: ...

    def last_event_seq(self) -> int: ...

    def prune_events(self, older_than: datetime) -> int:
        """Delete dispatched events older than the cut-off; returns how many."""
