"""API keys: when configured, every `/v1` request needs one; health endpoints stay open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import RunningServer, serving
from sightline import ApiError, Client
from sightline.settings import Settings
from support.imagegen import solid


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    # The model-free features: closing would otherwise wait for the real models' analysis.
    settings = Settings(
        data_dir=tmp_path / "d",
        api_keys="alpha-key, beta-key",
        workers=1,
        default_features="metadata,color,hash,thumbnail",
    )
    with serving(settings) as running:
        yield running


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "alpha"}, {"Authorization": "alpha-key"}],
)
def test_missing_or_wrong_keys_are_refused(guarded: RunningServer, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/v1/images"), ("POST", "/v1/images"), ("GET", "/v1/events")):
        response = httpx.request(method, guarded.url + path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "Unauthorized"
    assert sum(guarded.sightline.stores.images.status_counts().values()) == 0


def test_either_header_with_any_configured_key_is_accepted(guarded: RunningServer) -> None:
    assert httpx.get(f"{guarded.url}/v1/images", headers={"X-API-Key": "beta-key"}).is_success
    with Client(guarded.url, api_key="alpha-key") as client:
        image = client.upload(solid())
        assert client.get(image["id"])["id"] == image["id"]
    with Client(guarded.url, api_key="nope") as client, pytest.raises(ApiError) as error:
        client.get(image["id"])
    assert error.value.status == 401


def test_health_and_metrics_need_no_key(guarded: RunningServer) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(guarded.url + path).status_code == 200
