"""`GET /v1/features` and `GET /v1/models`: what the server computes, and with which models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from conftest import RunningServer, serving
from sightline.models.manifest import add_user_model
from sightline.models.specs import BUILTIN
from sightline.settings import Settings
from support.onnxnets import pooled_linear, write_manifest

BUILTIN_NAMES = {spec.name for spec in BUILTIN}
PREPARED = {spec.name for spec in BUILTIN if spec.prepared}
MODEL_FIELDS = {"name", "ready", "task", "version", "license", "source", "input_size", "detail"}


def get_items(url: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = httpx.get(url, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RunningServer]:
    """A server over an unprepared model folder that holds one user classifier."""
    source = tmp_path / "source"
    source.mkdir()
    weights = np.ones((3, 2), dtype=np.float32)
    pooled_linear(source / "net.onnx", weights, np.zeros(2, np.float32), width=8, height=8)
    manifest = write_manifest(
        source,
        name="two-way",
        kind="classifier",
        model="net.onnx",
        labels=["yes", "no"],
        input={"width": 8, "height": 8},
        license="MIT",
    )
    model_dir = tmp_path / "models"
    add_user_model(model_dir, manifest)
    settings = Settings(
        data_dir=tmp_path / "data", model_dir=model_dir, workers=0, default_features="color"
    )
    with serving(settings, run_workers=False) as running:
        yield running


def test_features_lists_every_analyzer_with_its_version(server: RunningServer) -> None:
    items = get_items(f"{server.url}/v1/features")
    analyzers = server.sightline.analyzers
    assert [item["name"] for item in items] == list(analyzers)
    for item in items:
        assert set(item) == {"name", "version", "default"}
        assert item["version"] == analyzers[item["name"]].version
    assert {"tags", "faces", "read", "objects", "people"} <= set(analyzers)


def test_the_default_flag_follows_the_default_features_setting(server: RunningServer) -> None:
    items = get_items(f"{server.url}/v1/features")
    defaults = {item["name"] for item in items if item["default"]}
    # tests/conftest.py sets default_features to the model-free features.
    assert defaults == {"metadata", "color", "hash", "thumbnail"}


def test_models_lists_every_model_ready_in_the_prepared_folder(server: RunningServer) -> None:
    items = {item["name"]: item for item in get_items(f"{server.url}/v1/models")}
    assert BUILTIN_NAMES <= set(items)
    for name in BUILTIN_NAMES:
        assert set(items[name]) == MODEL_FIELDS
        assert items[name]["ready"] is True, items[name]
        assert items[name]["detail"] == "ready"
        assert items[name]["license"] and items[name]["source"] and items[name]["input_size"]


def test_unprepared_models_say_what_to_do(fresh: RunningServer) -> None:
    items = {item["name"]: item for item in get_items(f"{fresh.url}/v1/models")}
    assert set(items) == BUILTIN_NAMES | {"two-way"}
    for name in PREPARED:
        assert items[name]["ready"] is False
        assert "sightline models prepare" in items[name]["detail"]
    for name in BUILTIN_NAMES - PREPARED:
        assert items[name]["ready"] is True, items[name]


def test_a_user_model_is_listed_as_a_model_and_a_feature(fresh: RunningServer) -> None:
    model = next(item for item in get_items(f"{fresh.url}/v1/models") if item["name"] == "two-way")
    assert model["ready"] is True and model["detail"] == "ready"
    assert model["license"] == "MIT"
    assert model["task"] == "classifier (2 labels, user model)"
    assert model["input_size"] == "8x8"
    assert model["version"].startswith("1+")

    features = {item["name"]: item for item in get_items(f"{fresh.url}/v1/features")}
    feature = features["model:two-way"]
    assert feature["default"] is False
    assert feature["version"].endswith(model["version"])
    assert [name for name, item in features.items() if item["default"]] == ["color"]


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(data_dir=tmp_path / "d", api_keys="alpha-key", workers=0)
    with serving(settings, run_workers=False) as running:
        yield running


@pytest.mark.parametrize("path", ["/v1/features", "/v1/models"])
def test_both_need_an_api_key_when_keys_are_configured(guarded: RunningServer, path: str) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        response = httpx.get(guarded.url + path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "Unauthorized"
    assert get_items(guarded.url + path, headers={"X-API-Key": "alpha-key"})
    assert get_items(guarded.url + path, headers={"Authorization": "Bearer alpha-key"})
