"""Sweeping what crashes leave behind: blobs no image references (a process killed between
writing a blob and committing its reference, or between deleting an image and releasing its
blobs), catalog rows of such blobs, and parts of writes that never finished.

Safe while uploads and workers run, in any number of processes at once:

- Every writer puts the bytes first, then commits the reference in a transaction that holds the
  blob's catalog row lock and writes the bytes again if they are gone (`StoreKeeper.ensure`,
  with the bytes still at hand): ingest, analysis artifacts and direct uploads alike. The sweep
  deletes only through `ImageStore.release_blobs`, which takes the same lock and counts the
  references again. Whichever comes first, a blob referenced when its transaction commits is in
  the store: a re-upload of the same bytes during a sweep finds them kept, or writes them again.
- The grace period keeps the sweep off anything written recently, so the writes in flight are
  not made to write again, and a part being written (parts have no row lock) is never removed.
- Deleting is idempotent: two sweeps at once, or a sweep racing a deletion, remove nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sightline.blobs import BlobStore, StoreKeeper
from sightline.images.store import ImageAudit, ImageStore
from sightline.maintenance.inventory import Entry, inventory
from sightline.storage.statements import chunks

BATCH = 200


class ImageCatalog(ImageStore, ImageAudit, Protocol):
    """The image store with its audit queries, as one database implements both."""


@dataclass(frozen=True)
class Swept:
    blobs: int
    rows: int
    parts: int

    def __bool__(self) -> bool:
        return bool(self.blobs or self.rows or self.parts)

    def __str__(self) -> str:
        return (
            f"Swept {self.blobs} unreferenced blobs, {self.rows} blob rows "
            f"and {self.parts} stale parts"
        )


class Sweeper:
    def __init__(self, images: ImageCatalog, blobs: BlobStore, grace_seconds: float) -> None:
        self.images = images
        self.blobs = blobs
        self.grace_seconds = grace_seconds

    def cutoff(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self.grace_seconds)

    def is_orphan(self, entry: Entry, cutoff: datetime) -> bool:
        """Stored, referenced by no image when listed, and written before the cut-off."""
        return entry.stored is not None and not entry.referenced and entry.stored.modified < cutoff

    def orphans(self, stopping: threading.Event | None = None) -> Iterator[str]:
        cutoff = self.cutoff()
        for entry in inventory(self.blobs, self.images):
            if stopping is not None and stopping.is_set():
                return
            if self.is_orphan(entry, cutoff):
                yield entry.sha256

    def orphan_rows(self, cutoff: datetime) -> Iterator[str]:
        after = ""
        while page := self.images.unreferenced_blob_rows(cutoff, after, BATCH):
            yield from page
            after = page[-1]

    def release(self, shas: Iterator[str] | list[str]) -> int:
        """Delete those of these blobs that are still unreferenced; how many went."""
        keeper = StoreKeeper(self.blobs)
        return sum(len(self.images.release_blobs(batch, keeper)) for batch in chunks(shas, BATCH))

    def sweep(self, stopping: threading.Event | None = None) -> Swept:
        """Remove what is left over; `stopping` set ends a long listing early."""
        cutoff = self.cutoff()
        blobs = self.release(self.orphans(stopping))
        # Rows whose bytes are gone too; those of the blobs above went with them.
        rows = self.release(list(self.orphan_rows(cutoff)))
        parts = self.blobs.remove_stale_parts(self.grace_seconds)
        return Swept(blobs, rows, parts)
