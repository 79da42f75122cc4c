"""A full disk loses nothing: uploads are refused with 507 `InsufficientStorage` under the
free-space floor or when a write hits a full disk, readiness says so, nothing half-written
stays, and uploads work again as soon as there is room."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import RunningServer, serve
from sightline.app import Sightline
from sightline.settings import Settings
from support.apicheck import assert_error, assert_nothing_stored_and_still_serving
from support.imagegen import noise

JPEG = noise(4, size=(32, 32))


def upload(server: RunningServer) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/images", content=JPEG, headers={"Content-Type": "image/jpeg"}
    )


@pytest.fixture
def crowded(tmp_path: Path) -> Iterator[tuple[Sightline, RunningServer]]:
    """A server whose floor is above the disk's free space, as on a nearly full disk."""
    free = shutil.disk_usage(tmp_path).free
    settings = Settings(
        data_dir=tmp_path / "data",
        min_free_bytes=free + 2**30,
        workers=1,
        poll_interval_seconds=0.02,
        default_features="metadata,color,hash,thumbnail",
    )
    app = Sightline(settings)
    with serve(app) as running:
        yield app, running
    app.close()


def test_under_the_floor_uploads_are_refused_and_readiness_says_why(
    crowded: tuple[Sightline, RunningServer],
) -> None:
    app, server = crowded
    assert_error(upload(server), 507, "InsufficientStorage")
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["disk"] == "down"
    assert "InsufficientStorage" in ready.json()["reasons"]["disk"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert httpx.get(f"{server.url}/v1/images").json()["items"] == []

    app.disk_space.min_free_bytes = 0  # space came back
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    assert upload(server).status_code == 202


def test_a_blob_write_on_a_full_disk_is_refused_and_leaves_nothing(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sightline.blobs.local.os.fsync", full)
    assert_error(upload(server), 507, "InsufficientStorage")
    monkeypatch.undo()
    leftovers = list(Path(server.sightline.settings.data_dir).rglob("*.part"))
    assert leftovers == []
    assert_nothing_stored_and_still_serving(server)
    assert upload(server).status_code == 202
