"""LocalBlobStore: content addressing, the BlobStore contract, key validation, atomic writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sightline.blobs import BlobStore, open_blob_store
from sightline.errors import BlobNotFound, ConfigurationError

DATA = b"the quick brown fox jumps over the lazy dog"
SHA = hashlib.sha256(DATA).hexdigest()
MISSING = "0" * 64


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path) -> BlobStore:
    return open_blob_store(root.as_uri())


def blob_files(root: Path) -> list[Path]:
    """Every stored blob file, i.e. everything under root except the temp folder."""
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] != "tmp"
    ]


def test_put_returns_the_sha256_of_the_bytes(store: BlobStore) -> None:
    assert store.put(DATA) == SHA


def test_put_then_read_back(store: BlobStore) -> None:
    sha = store.put(DATA)
    assert store.exists(sha)
    assert store.size(sha) == len(DATA)
    with store.open(sha) as blob:
        assert blob.read() == DATA


def test_put_is_idempotent(store: BlobStore, root: Path) -> None:
    assert store.put(DATA) == store.put(DATA) == SHA
    assert len(blob_files(root)) == 1
    with store.open(SHA) as blob:
        assert blob.read() == DATA


def test_distinct_content_gets_distinct_blobs(store: BlobStore, root: Path) -> None:
    other = store.put(b"other bytes")
    assert other != store.put(DATA)
    assert len(blob_files(root)) == 2
    with store.open(other) as blob:
        assert blob.read() == b"other bytes"


def test_empty_blob(store: BlobStore) -> None:
    sha = store.put(b"")
    assert sha == hashlib.sha256(b"").hexdigest()
    assert store.size(sha) == 0


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
    with store.open(SHA) as blob:
        assert blob.read() == DATA


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
@pytest.mark.parametrize("method", ["open", "size", "exists", "delete"])
def test_keys_that_are_not_sha256_are_rejected(store: BlobStore, key: str, method: str) -> None:
    with pytest.raises(ValueError):
        getattr(store, method)(key)


def test_path_tricks_cannot_reach_files_outside_the_store(store: BlobStore, root: Path) -> None:
    victim = root.parent / "victim.txt"
    victim.write_text("keep me")
    with pytest.raises(ValueError):
        store.delete("../victim.txt")
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("crash_in", ["fsync", "replace"])
def test_a_crash_during_put_leaves_no_blob_and_no_temp_file(
    store: BlobStore, root: Path, monkeypatch: pytest.MonkeyPatch, crash_in: str
) -> None:
    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, crash_in, crash)
    with pytest.raises(OSError, match="disk on fire"):
        store.put(DATA)
    monkeypatch.undo()

    assert not store.exists(SHA)
    assert blob_files(root) == []
    tmp = root / "tmp"
    assert tmp.is_dir()
    assert list(tmp.iterdir()) == []
    # And the store still works afterwards.
    assert store.put(DATA) == SHA
    assert store.size(SHA) == len(DATA)
    assert list(tmp.iterdir()) == []


def test_a_finished_put_leaves_no_temp_file(store: BlobStore, root: Path) -> None:
    store.put(DATA)
    assert list((root / "tmp").iterdir()) == []


def test_localhost_is_accepted(root: Path) -> None:
    store = open_blob_store(f"file://localhost{root}")
    assert store.put(DATA) == SHA
    assert open_blob_store(root.as_uri()).exists(SHA)


def test_data_survives_reopening(root: Path) -> None:
    open_blob_store(root.as_uri()).put(DATA)
    with open_blob_store(root.as_uri()).open(SHA) as blob:
        assert blob.read() == DATA


def test_unknown_scheme_is_a_configuration_error(root: Path) -> None:
    with pytest.raises(ConfigurationError, match="scheme"):
        open_blob_store(f"ftp://{root}")


def test_file_url_with_a_host_is_rejected() -> None:
    with pytest.raises(ConfigurationError):
        open_blob_store("file://host/x")


def test_file_url_without_a_folder_is_rejected() -> None:
    with pytest.raises(ConfigurationError):
        open_blob_store("file://")
