"""LocalBlobStore: its folder layout, path safety, atomic writes and file:// URLs (the
BlobStore contract itself is in test_contract.py)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from sightline.blobs import BlobStore, open_blob_store
from sightline.blobs.local import LocalBlobStore
from sightline.errors import ConfigurationError

DATA = b"the quick brown fox jumps over the lazy dog"
SHA = hashlib.sha256(DATA).hexdigest()


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


def test_a_blob_is_one_file_named_by_its_sha256(store: BlobStore, root: Path) -> None:
    store.put(DATA)
    store.put(DATA)
    assert blob_files(root) == [root / SHA[:2] / SHA[2:4] / SHA]
    store.put(b"other bytes")
    assert len(blob_files(root)) == 2


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


def test_a_local_store_has_no_presigned_urls(store: BlobStore) -> None:
    store.put(DATA)
    assert store.presigned_url(SHA, expires_seconds=60, filename="a.jpg") is None


def test_localhost_is_accepted(root: Path) -> None:
    store = open_blob_store(f"file://localhost{root}")
    assert store.put(DATA) == SHA
    assert open_blob_store(root.as_uri()).exists(SHA)


def test_file_url_with_a_host_is_rejected() -> None:
    with pytest.raises(ConfigurationError):
        open_blob_store("file://host/x")


def test_file_url_without_a_folder_is_rejected() -> None:
    with pytest.raises(ConfigurationError):
        open_blob_store("file://")


def test_parts_left_by_a_crashed_write_go_at_start_up(tmp_path: Path) -> None:
    LocalBlobStore(tmp_path)
    stale = tmp_path / "tmp" / "abcd1234xyz.part"
    fresh = tmp_path / "tmp" / "ef567890xyz.part"
    for part in (stale, fresh):
        part.write_bytes(b"half a blob")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    LocalBlobStore(tmp_path)  # a restart
    assert not stale.exists()
    assert fresh.exists()  # another process may still be writing it


def test_stale_parts_are_counted_or_removed_on_demand(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    part = tmp_path / "tmp" / "abcd1234xyz.part"
    part.write_bytes(b"half a blob")
    assert store.remove_stale_parts(60, dry_run=True) == 0  # a write in flight, maybe
    assert store.remove_stale_parts(0, dry_run=True) == 1
    assert part.exists()
    assert store.remove_stale_parts(0) == 1
    assert not part.exists()


def test_the_listing_leaves_out_files_that_are_not_blobs(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put(b"a blob")
    misplaced = tmp_path / "00" / "00" / sha  # a sha256 name in the wrong folder
    misplaced.parent.mkdir(parents=True)
    misplaced.write_bytes(b"a blob")
    (tmp_path / sha[:2] / sha[2:4] / "notes.txt").write_text("an operator's")
    (tmp_path / "tmp" / "abcd1234xyz.part").write_bytes(b"half")
    assert [blob.sha256 for blob in store.list_blobs()] == [sha]
