"""What the maintenance tests share: waiting for analyses, and damaging a blob store the way a
crash or a failing disk would, on either backend."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sightline.app import Sightline
from sightline.blobs import BlobStore
from sightline.blobs.local import LocalBlobStore
from sightline.blobs.s3 import S3BlobStore
from sightline.storage.records import ImageStatus


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def analysed(app: Sightline, image_ids: Iterable[str]) -> Callable[[], bool]:
    ids = list(image_ids)

    def all_finished() -> bool:
        records = app.stores.images.get_images(ids)
        return len(records) == len(ids) and all(
            record.status in (ImageStatus.DONE, ImageStatus.FAILED) for record in records.values()
        )

    return all_finished


def blob_path(blobs: BlobStore, sha256: str) -> Path:
    assert isinstance(blobs, LocalBlobStore)
    return blobs.root / sha256[:2] / sha256[2:4] / sha256


def age(blobs: BlobStore, sha256: str, seconds: float = 7200) -> str:
    """Make a blob of a folder look written `seconds` ago."""
    then = time.time() - seconds
    os.utime(blob_path(blobs, sha256), (then, then))
    return sha256


def corrupt(blobs: BlobStore, sha256: str) -> None:
    """Other bytes under the blob's name, as bit rot or a faulty copy leaves them."""
    if isinstance(blobs, S3BlobStore):
        blobs.client.put_object(Bucket=blobs.bucket, Key=blobs.blob_key(sha256), Body=b"rot")
    else:
        blob_path(blobs, sha256).write_bytes(b"rot")
