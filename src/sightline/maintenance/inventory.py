"""The blob store's listing side by side with the catalog's references, both in sha256 order,
merged as they stream: no set of every blob is ever held in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from sightline.blobs import BlobStore, StoredBlob
from sightline.errors import BackendError
from sightline.images.store import ImageAudit

PAGE = 1000
T = TypeVar("T", StoredBlob, str)


@dataclass(frozen=True)
class Entry:
    """One sha256 seen in the store (`stored`), among the references (`referenced`), or both."""

    sha256: str
    stored: StoredBlob | None
    referenced: bool


def referenced_blobs(audit: ImageAudit) -> Iterator[str]:
    after = ""
    while page := audit.referenced_blobs(after, PAGE):
        yield from page
        after = page[-1]


def inventory(blobs: BlobStore, audit: ImageAudit) -> Iterator[Entry]:
    """Every blob the store holds or an image references, in ascending sha256 order. Both sides
    are read while others write: what changes meanwhile may show on one side only, so a caller
    confirms a finding before acting on it."""
    listed = _ascending(blobs.list_blobs(), "The blob store")
    references = _ascending(referenced_blobs(audit), "The catalog")
    stored = next(listed, None)
    reference = next(references, None)
    while stored is not None or reference is not None:
        if reference is None or (stored is not None and stored.sha256 < reference):
            assert stored is not None
            yield Entry(stored.sha256, stored, referenced=False)
            stored = next(listed, None)
        elif stored is None or reference < stored.sha256:
            yield Entry(reference, None, referenced=True)
            reference = next(references, None)
        else:
            yield Entry(reference, stored, referenced=True)
            stored = next(listed, None)
            reference = next(references, None)


def _ascending(items: Iterator[T], source: str) -> Iterator[T]:
    """The merge is only right on sorted input: a backend breaking the order fails loudly."""
    last = ""
    for item in items:
        sha256 = item.sha256 if isinstance(item, StoredBlob) else str(item)
        if sha256 <= last:
            raise BackendError(f"{source} listed {sha256} after {last}: not in sha256 order.")
        last = sha256
        yield item
