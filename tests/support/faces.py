"""Faces are grouped just after their image's analysis is stored, so an image reads `done` a
moment before its faces have their cluster and person: tests that read those wait for them."""

from __future__ import annotations

import time

import httpx

GROUPING_TIMEOUT = 30.0


def wait_grouped(url: str, image_id: str, collection: str | None = None) -> None:
    """Until every face of the image is in a cluster (at once for an image without faces)."""
    params = {"image_id": image_id, **({"collection": collection} if collection else {})}
    deadline = time.monotonic() + GROUPING_TIMEOUT
    while True:
        answer = httpx.get(f"{url}/v1/faces", params=params, timeout=60)
        assert answer.status_code == 200, answer.text
        if all(face["cluster_id"] is not None for face in answer.json()["items"]):
            return
        assert time.monotonic() < deadline, f"the faces of {image_id} were never grouped"
        time.sleep(0.02)
