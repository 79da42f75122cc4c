"""Checks shared by the API tests: the error shape, and that a refused request stored nothing."""

from __future__ import annotations

from pathlib import Path

import httpx

from conftest import RunningServer
from support.imagegen import solid

JPEG = solid("red", (64, 64))


def stored_blob_files(server: RunningServer) -> list[Path]:
    root = server.sightline.settings.data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts]


def assert_nothing_stored_and_still_serving(server: RunningServer) -> None:
    catalog = server.sightline.stores
    assert sum(catalog.images.status_counts().values()) == 0
    assert catalog.events.last_event_seq() == 0
    assert stored_blob_files(server) == []
    assert list((server.sightline.settings.data_dir / "blobs" / "tmp").iterdir()) == []
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    accepted = httpx.post(
        f"{server.url}/v1/images", content=JPEG, headers={"Content-Type": "image/jpeg"}
    )
    assert accepted.status_code == 202


def footprint(server: RunningServer) -> tuple[int, int, list[Path], list[Path]]:
    """What a request can leave behind: images, events, blobs and half-written temporary files.
    Equal before and after a refused request: it stored nothing, not even in part."""
    catalog = server.sightline.stores
    images = sum(catalog.images.status_counts().values())
    temporary = sorted((server.sightline.settings.data_dir / "blobs" / "tmp").glob("*"))
    return images, catalog.events.last_event_seq(), sorted(stored_blob_files(server)), temporary


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
