"""The BlobStore contract, run on every backend: content addressing, idempotent puts, reads
that stream and seek, deletion, missing blobs, listing and key validation."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta

import pytest

from sightline.blobs import BlobStore, open_blob_store
from sightline.errors import BlobNotFound, ConfigurationError

DATA = b"the quick brown fox jumps over the lazy dog"
SHA = hashlib.sha256(DATA).hexdigest()
MISSING = "0" * 64


def read(store: BlobStore, sha256: str) -> bytes:
    with store.open(sha256) as blob:
        return blob.read()


def test_put_returns_the_sha256_of_the_bytes(store: BlobStore) -> None:
    assert store.put(DATA) == SHA


def test_put_then_read_back(store: BlobStore) -> None:
    sha = store.put(DATA)
    assert store.exists(sha)
    assert store.size(sha) == len(DATA)
    assert read(store, sha) == DATA


def test_put_with_the_sha256_at_hand_stores_at_it(store: BlobStore) -> None:
    assert store.put(DATA, SHA) == SHA
    assert read(store, SHA) == DATA
    with pytest.raises(ValueError):
        store.put(DATA, "not-a-sha256")


def test_put_is_idempotent(store: BlobStore) -> None:
    assert store.put(DATA) == store.put(DATA) == SHA
    assert read(store, SHA) == DATA


def test_distinct_content_gets_distinct_blobs(store: BlobStore) -> None:
    other = store.put(b"other bytes")
    assert other != store.put(DATA)
    assert read(store, other) == b"other bytes"
    assert read(store, SHA) == DATA


def test_empty_blob(store: BlobStore) -> None:
    sha = store.put(b"")
    assert sha == hashlib.sha256(b"").hexdigest()
    assert store.size(sha) == 0
    assert read(store, sha) == b""


def test_delete_removes_the_blob(store: BlobStore) -> None:
    sha = store.put(DATA)
    store.delete(sha)
    assert not store.exists(sha)
    with pytest.raises(BlobNotFound):
        store.open(sha)


def test_delete_of_a_missing_blob_is_a_no_op(store: BlobStore) -> None:
    store.delete(MISSING)
    assert not store.exists(MISSING)


def test_missing_blob(store: BlobStore) -> None:
    assert store.exists(MISSING) is False
    with pytest.raises(BlobNotFound):
        store.open(MISSING)
    with pytest.raises(BlobNotFound):
        store.size(MISSING)


def test_put_after_delete_writes_again(store: BlobStore) -> None:
    store.put(DATA)
    store.delete(SHA)
    assert store.put(DATA) == SHA
    assert read(store, SHA) == DATA


def test_data_survives_reopening(blob_url: str) -> None:
    open_blob_store(blob_url).put(DATA)
    assert read(open_blob_store(blob_url), SHA) == DATA


def test_a_blob_reads_in_chunks(store: BlobStore) -> None:
    data = os.urandom(700_000)
    sha = store.put(data)
    with store.open(sha) as blob:
        chunks = list(iter(lambda: blob.read(64 * 1024), b""))
    assert {len(chunk) for chunk in chunks[:-1]} == {64 * 1024}
    assert b"".join(chunks) == data


def test_an_open_blob_seeks_like_a_file(store: BlobStore) -> None:
    data = os.urandom(600_000)
    sha = store.put(data)
    with store.open(sha) as blob:
        assert blob.seekable()
        assert blob.read(10) == data[:10]
        assert blob.seek(500_000) == 500_000
        assert blob.read(1000) == data[500_000:501_000]
        blob.seek(3)
        assert blob.read(5) == data[3:8]
        blob.seek(-7, io.SEEK_END)
        assert blob.read() == data[-7:]
        assert blob.tell() == len(data)
        assert blob.read(10) == b""


def test_the_listing_is_every_blob_in_sha256_order_with_size_and_write_time(
    store: BlobStore,
) -> None:
    assert list(store.list_blobs()) == []
    before = datetime.now(UTC) - timedelta(seconds=5)  # the store's clock may lag a little
    contents = [os.urandom(size) for size in (0, 10, 700, 3000, 51)]
    shas = [store.put(data) for data in contents]
    store.delete(shas.pop())
    listed = list(store.list_blobs())
    assert [blob.sha256 for blob in listed] == sorted(shas)
    sizes = {hashlib.sha256(data).hexdigest(): len(data) for data in contents}
    assert all(blob.size == sizes[blob.sha256] for blob in listed)
    after = datetime.now(UTC) + timedelta(seconds=5)
    assert all(before <= blob.modified <= after for blob in listed)


def test_no_write_leaves_a_stale_part(store: BlobStore) -> None:
    store.put(os.urandom(1000))
    assert store.remove_stale_parts(0, dry_run=True) == 0
    assert store.remove_stale_parts(0) == 0


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        SHA.upper(),
        SHA[:63],
        SHA + "0",
        "aa/../..",
        "aa/" + SHA[3:],
        "",
        "/" + SHA[1:],
        SHA[:62] + "g0",
    ],
)
@pytest.mark.parametrize("method", ["open", "size", "exists", "delete", "presigned_url"])
def test_keys_that_are_not_sha256_are_rejected(store: BlobStore, key: str, method: str) -> None:
    arguments = {"expires_seconds": 60} if method == "presigned_url" else {}
    with pytest.raises(ValueError):
        getattr(store, method)(key, **arguments)


def test_unknown_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="scheme"):
        open_blob_store("ftp://host/blobs")
