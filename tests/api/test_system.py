"""Readiness means "can take uploads": a queue outage is reported, not a reason to refuse."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import TEST_SETTINGS, serving
from sightline import Client
from sightline.settings import Settings
from support.catalogs import migrate
from support.imagegen import solid
from support.prometheus import sample
from support.services import Stack


def test_with_the_queue_down_the_api_is_ready_degraded_and_takes_uploads(
    tmp_path: Path, stoppable_redis: Stack
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        queue_url=f"{stoppable_redis.redis.url}?namespace=readiness",
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )
    with serving(settings) as server, Client(server.url, timeout=30) as client:
        stoppable_redis.redis.kill()
        ready = httpx.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"] == {
            "catalog": "ok",
            "queue": "down",
            "blobs": "ok",
            "disk": "ok",
            "models": "ok",
        }
        assert "Redis" in ready.json()["reasons"]["queue"]
        text = httpx.get(f"{server.url}/metrics", timeout=30).text
        assert sample(text, "sightline_component_up", component="queue") == 0
        assert sample(text, "sightline_component_up", component="catalog") == 1

        image = client.upload(solid("orange"))  # waits in the outbox
        assert image["status"] == "pending"
        stoppable_redis.redis.start()
        assert client.wait(image["id"], timeout=60)["status"] == "done"
        ready = httpx.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"


@pytest.mark.postgres
def test_with_the_catalog_unreachable_the_api_is_unavailable(
    tmp_path: Path, services: Stack
) -> None:
    catalog_url = services.postgres.new_database(prepare=migrate)
    settings = Settings(data_dir=tmp_path / "data", catalog_url=catalog_url, **TEST_SETTINGS)  # type: ignore[arg-type]
    with serving(settings, run_workers=False) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        services.postgres.drop_database(catalog_url)  # its connections are closed with it
        ready = httpx.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert ready.json()["checks"]["catalog"] == "down"
        assert httpx.get(f"{server.url}/healthz").status_code == 200
