"""What the images domain needs from its database: the image store and its query, and what
maintenance reads about images (blob references, unfinished work)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sightline.storage.change_marks import ChangeMark
from sightline.storage.records import (
    JSON,
    BlobKeeper,
    BlobRef,
    FeatureState,
    ImageRecord,
    ImageStatus,
    NewImage,
)

# The role of an image's own bytes among its blob references; artifacts are `{feature}:{path}`.
ORIGINAL_ROLE = "original"


class ImageOrder(StrEnum):
    """Upload order of a listing: ids sort by upload time."""

    NEWEST = "newest"
    OLDEST = "oldest"


@dataclass(frozen=True)
class ImageQuery:
    collection: str | None = None  # None: every collection
    status: ImageStatus | None = None
    content_type: str | None = None
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None
    sha256: str | None = None  # only the images of these exact bytes
    order: ImageOrder = ImageOrder.NEWEST
    after_id: str | None = None  # the last image of the previous page, in `order`
    limit: int = 50


@dataclass(frozen=True)
class ImageVersion:
    updated_at: datetime
    status: ImageStatus


class ImageStore(Protocol):
    """Images, their per-feature results and blob references. Every method is one transaction;
    one that writes an event does so in the transaction of the change it describes (the
    outbox), so a committed upload always has its "created" event.

    Reads take `collection`: only images of that collection are found (None: of every one), so
    an image of another collection is not there, exactly like a missing one."""

    def add_images(
        self,
        images: Sequence[NewImage],
        events: Sequence[JSON],
        keeper: BlobKeeper,
        *,
        as_of: ChangeMark | None = None,
    ) -> list[ImageRecord]:
        """Insert all images (or none), each with its original's blob reference and events. An
        image is a duplicate of the first image of its collection with the same bytes. Its
        features are pending: none has a result yet. With `as_of`, only while that mark holds
        (`MarkMoved` otherwise): the features were chosen from a kept copy."""

    def get_image(self, image_id: str, collection: str | None = None) -> ImageRecord | None:
        """The image with its results, read in one query."""

    def image_version(self, image_id: str, collection: str | None = None) -> ImageVersion | None:
        """When the image last changed, and its status: every change to it or to its results
        moves `updated_at`, so an answer made from a record of the same `updated_at` is
        still true (what `api.image_answers` caches by)."""

    def get_images(
        self, image_ids: Sequence[str], collection: str | None = None
    ) -> dict[str, ImageRecord]:
        """The images that exist among these, by id, read at once."""

    def list_images(self, query: ImageQuery) -> list[ImageRecord]:
        """In `query.order` (by id, which sorts by upload time), from after `after_id`."""

    def count_images(self, query: ImageQuery) -> int:
        """How many images the query's filters keep, over every page."""

    def image_ids_after(
        self, after_image_id: str, limit: int, collection: str | None = None
    ) -> list[str]:
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

    def release_blobs(self, shas: Sequence[str], keeper: BlobKeeper) -> list[str]:
        """Discard those of these blobs that nothing references: cleanup after a failed write,
        and after deletions and replaced results once they are committed; and sweeping. Each
        is checked under its row lock, which every writer of a reference holds while it
        `ensure`s the bytes, so a blob being referenced again meanwhile is kept or re-written,
        never lost. Returns the ones discarded."""

    def near_duplicates(
        self, image_id: str, max_distance: int, collection: str | None = None
    ) -> list[tuple[str, int]]:
        """Other images whose perceptual hash is within `max_distance` bits, nearest first."""

    def status_counts(self) -> dict[ImageStatus, int]: ...


@dataclass(frozen=True)
class BlobUse:
    """One image's use of a blob: `original`, or an artifact `{feature}:{path}`."""

    sha256: str
    image_id: str
    role: str

    @property
    def is_original(self) -> bool:
        return self.role == ORIGINAL_ROLE

    def feature(self, features: Sequence[str]) -> str | None:
        """The feature of `features` whose artifact this is; None for the original."""
        owners = [name for name in features if self.role.startswith(f"{name}:")]
        return max(owners, key=len, default=None)


class ImageAudit(Protocol):
    """What checks and sweeps read about images, each query its own transaction."""

    def referenced_blobs(self, after_sha256: str, limit: int) -> list[str]:
        """The blobs images reference, in ascending sha256 order, from after `after_sha256`."""

    def blob_uses(self, shas: Sequence[str]) -> list[BlobUse]:
        """Every reference to these blobs, now."""

    def unreferenced_blob_rows(
        self, created_before: datetime, after_sha256: str, limit: int
    ) -> list[str]:
        """Blob rows no image references, created before the cut-off, in sha256 order from
        after `after_sha256`: left by a crash between a deletion and the release of its
        blobs."""

    def stranded_features(self) -> Iterator[tuple[str, list[str]]]:
        """(image id, features) for every image with pending or running features that no
        unfinished analysis event asks for: no job will ever end them. Each image's features
        and events are read in one snapshot, so work finishing meanwhile is not reported."""
