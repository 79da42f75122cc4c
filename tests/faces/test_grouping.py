"""Faces whose grouping failed after their analysis: listing clusters does not group them (a
read writes nothing), the sweep's schedule does once grouping works again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from skimage import data

from conftest import TEST_SETTINGS, RunningServer, serving
from sightline import Client
from sightline.faces.service import FaceService
from sightline.settings import Settings
from support.imagegen import encode


@pytest.fixture
def site(tmp_path: Path) -> Iterator[RunningServer]:
    values = TEST_SETTINGS | {
        "default_features": "faces,face_embedding",
        "sweep_interval_seconds": 0.2,
    }
    settings = Settings(data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]
    with serving(settings) as running:
        yield running


def face(site: RunningServer, image_id: str) -> dict[str, object]:
    answer = httpx.get(f"{site.url}/v1/faces", params={"image_id": image_id}, timeout=60)
    (found,) = answer.json()["items"]
    return dict(found)


def test_faces_left_ungrouped_are_grouped_by_the_schedule_not_by_a_listing(
    site: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_service: FaceService) -> int:
        raise RuntimeError("the index is unavailable")

    monkeypatch.setattr(FaceService, "group_new", broken)
    with Client(site.url, timeout=60) as client:
        image_id = client.upload(encode(Image.fromarray(data.astronaut()), "PNG"))["id"]
        assert client.wait(image_id, timeout=120)["status"] == "done"
    assert face(site, image_id)["cluster_id"] is None
    listed = httpx.get(f"{site.url}/v1/faces/clusters", timeout=60)
    assert listed.status_code == 200 and listed.json()["items"] == []
    time.sleep(0.5)  # two runs of the schedule, failing
    assert face(site, image_id)["cluster_id"] is None

    monkeypatch.undo()
    deadline = time.monotonic() + 20
    while face(site, image_id)["cluster_id"] is None:
        assert time.monotonic() < deadline, "the schedule never grouped the face"
        time.sleep(0.1)
    (cluster,) = httpx.get(f"{site.url}/v1/faces/clusters", timeout=60).json()["items"]
    assert cluster["faces"] == 1
