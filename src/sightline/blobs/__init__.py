"""Blob stores: content-addressed storage of originals and derived images."""

from sightline.blobs.base import (
    BlobStore,
    Inbox,
    ObjectReader,
    PresignedPost,
    StoredBlob,
    StoreKeeper,
    is_sha256,
    open_blob_store,
)

__all__ = [
    "BlobStore",
    "Inbox",
    "ObjectReader",
    "PresignedPost",
    "StoreKeeper",
    "StoredBlob",
    "is_sha256",
    "open_blob_store",
]
