"""The blob store interface and the URL-scheme table that picks an implementation."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

from sightline.backends import load_backend
from sightline.errors import BlobNotFound

_SHA256 = re.compile(r"[0-9a-f]{64}")

BACKENDS = {
    "file": "sightline.blobs.local:LocalBlobStore",
    "s3": "sightline.blobs.s3:S3BlobStore",
}


def is_sha256(value: str) -> bool:
    return _SHA256.fullmatch(value) is not None


@dataclass(frozen=True)
class StoredBlob:
    """One blob as the store lists it: `modified` is when its bytes were last written (UTC)."""

    sha256: str
    size: int
    modified: datetime


class BlobStore(Protocol):
    """Immutable blobs addressed by the lowercase hex sha256 of their bytes.

    `put` is idempotent and atomic: a reader sees either no blob or all of it; a caller that
    has just hashed the bytes passes their `sha256` so that they are not hashed twice (it must
    be theirs: the store takes it as their address). `open` returns a
    seekable binary file that the caller closes (`with`); it need not hold the blob in memory.
    Every method rejects a key that is not a sha256 with `ValueError`; `open` and `size` raise
    `sightline.errors.BlobNotFound` for a missing blob; `delete` of a missing blob is a no-op.
    A store that cannot reach its storage raises `sightline.errors.BackendError`.

    `presigned_url` is a URL a client may GET the blob from directly for `expires_seconds`,
    answered with `content_type` and, given `filename`, an inline Content-Disposition naming it;
    None when the store cannot sign one (a local folder). It does not check that the blob exists.

    `list_blobs` yields every blob in ascending sha256 order (so a listing can be merged with
    the catalog's references without holding either in memory); blobs written or deleted
    meanwhile may or may not appear. `remove_stale_parts` removes what writes that never
    finished left behind (a temporary file, an unfinished multipart upload) once it is older
    than `older_than` seconds, and returns how many there were; with `dry_run` it only counts.
    Younger parts may belong to a write in flight in another process.
    """

    def put(self, data: bytes, sha256: str | None = None) -> str: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def size(self, sha256: str) -> int: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...

    def list_blobs(self) -> Iterator[StoredBlob]: ...

    def remove_stale_parts(self, older_than: float, *, dry_run: bool = False) -> int: ...

    def presigned_url(
        self,
        sha256: str,
        *,
        expires_seconds: int,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str | None: ...


@dataclass(frozen=True)
class PresignedPost:
    """A browser form upload: POST `fields` plus the file (last) as multipart/form-data to `url`.

    The object lands in the store's inbox under `key`.
    """

    url: str
    fields: dict[str, str]
    key: str


@runtime_checkable
class ObjectReader(Protocol):
    """Any object of the store the store's credentials may read, named as its clients name it
    (bucket, key, optional version): what the AWS Rekognition facade's `S3Object` images are.

    `read_object` answers the bytes; `ImageTooLarge` unread when the object has more than
    `max_bytes`, `BlobNotFound` when there is no such object (or version), `BackendError` when
    the store refuses or fails.
    """

    def read_object(
        self, bucket: str, key: str, version: str | None, *, max_bytes: int
    ) -> bytes: ...


@runtime_checkable
class Inbox(Protocol):
    """Uploads written straight into the store by clients, before Sightline catalogues them.

    An inbox key names one incoming object, relative to the inbox (`{random}/{file name}` for
    presigned posts; any `/`-separated path for objects other systems drop in). Its last segment
    is the client's file name. `read_incoming` and `delete_incoming` reject a key with an empty,
    `.` or `..` segment (also split at `\\`) or a control character with `ValueError`.

    - `presigned_post`: a form upload of at most `max_bytes` bytes, usable for `expires_seconds`.
    - `inbox_key`: the inbox key of the object a bucket notification names (the object key
      decoded: S3 event records URL-encode it), or None when the object is not in this inbox.
    - `read_incoming`: the object's bytes; `sightline.errors.ImageTooLarge` without
      downloading it when it has more than `max_bytes`, `BlobNotFound` when it is gone.
    - `delete_incoming`: remove it once catalogued (a no-op when it is gone).
    - `list_incoming`: the keys of the objects in the inbox written before `written_before`
      (whose notification may never have come); objects whose key is not an inbox key are
      left out, as notifications naming them are ignored.
    """

    def presigned_post(
        self, name: str, *, max_bytes: int, expires_seconds: int
    ) -> PresignedPost: ...

    def inbox_key(self, bucket: str, object_key: str) -> str | None: ...

    def read_incoming(self, key: str, *, max_bytes: int) -> bytes: ...

    def delete_incoming(self, key: str) -> None: ...

    def list_incoming(self, written_before: datetime) -> Iterator[str]: ...


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
        self.blobs.put(self.pending[sha256], sha256)

    def discard(self, sha256: str) -> None:
        self.blobs.delete(sha256)


def open_blob_store(url: str) -> BlobStore:
    store: BlobStore = load_backend("blob store", url, BACKENDS)
    return store
