"""The blob store interface and the URL-scheme table that picks an implementation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import BinaryIO, Protocol

from sightline.backends import load_backend
from sightline.errors import BlobNotFound

_SHA256 = re.compile(r"[0-9a-f]{64}")

BACKENDS = {"file": "sightline.blobs.local:LocalBlobStore"}


def is_sha256(value: str) -> bool:
    return _SHA256.fullmatch(value) is not None


class BlobStore(Protocol):
    """Immutable blobs addressed by the lowercase hex sha256 of their bytes.

    `put` is idempotent and atomic: a reader sees either no blob or all of it. Every method
    rejects a key that is not a sha256 with `ValueError`; `open` and `size` raise
    `sightline.errors.BlobNotFound` for a missing blob; `delete` of a missing blob is a no-op.
    """

    def put(self, data: bytes) -> str: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def size(self, sha256: str) -> int: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...


class StoreKeeper:
    """The catalog's `BlobKeeper` over a blob store.

    `ensure` re-writes a blob that a concurrent delete removed, from the bytes at hand;
    `discard` deletes a blob nothing references any more.
    """

    def __init__(self, blobs: BlobStore, pending: Mapping[str, bytes] | None = None) -> None:
        self.blobs = blobs
        self.pending = pending or {}

    def ensure(self, sha256: str) -> None:
        if self.blobs.exists(sha256):
            return
        if sha256 not in self.pending:
            raise BlobNotFound(f"Blob {sha256} is missing and its bytes are not at hand.")
        self.blobs.put(self.pending[sha256])

    def discard(self, sha256: str) -> None:
        self.blobs.delete(sha256)


def open_blob_store(url: str) -> BlobStore:
    store: BlobStore = load_backend("blob store", url, BACKENDS)
    return store
