"""What the images domain needs from its database: the image store and its query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sightline.storage.records import (
    JSON,
    BlobKeeper,
    BlobRef,
    FeatureState,
    ImageRecord,
    ImageStatus,
    NewImage,
)


@dataclass(frozen=True)
class ImageQuery:
    collection: str | None = None  # None: every collection
    status: ImageStatus | None = None
    content_type: str | None = None
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None
    before_id: str | None = None
    limit: int = 50


class ImageStore(Protocol):
    """Images, their per-feature results and blob references. Every method is one transaction;
    one that writes an event does so in the transaction of the change it describes (the
    outbox), so a committed upload always has its "created" event.

    Reads take `collection`: only images of that collection are found (None: of every one), so
    an image of another collection is not there, exactly like a missing one."""

    def add_images(
        self, images: Sequence[NewImage], events: Sequence[JSON], keeper: BlobKeeper
    ) -> list[ImageRecord]:
        """Insert all images (or none), each with its original's blob reference and events. An
        image is a duplicate of the first image of its collection with the same bytes."""

    def get_image(self, image_id: str, collection: str | None = None) -> ImageRecord | None: ...

    def get_images(
        self, image_ids: Sequence[str], collection: str | None = None
    ) -> dict[str, ImageRecord]:
        """The images that exist among these, by id, read at once."""

    def list_images(self, query: ImageQuery) -> list[ImageRecord]:
        """Newest first (by id, which sorts by upload time), `before_id` for the next page."""

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

    def release_blobs(self, shas: Sequence[str], keeper: BlobKeeper) -> None:
        """Discard those of these blobs that nothing references: cleanup after a failed write,
        and after deletions and replaced results once they are committed."""

    def near_duplicates(
        self, image_id: str, max_distance: int, collection: str | None = None
    ) -> list[tuple[str, int]]:
        """Other images whose perceptual hash is within `max_distance` bits, nearest first."""

    def status_counts(self) -> dict[ImageStatus, int]: ...
