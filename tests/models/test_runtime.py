"""Lazy, shared, idle-unloaded models."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sightline.errors import SkipFeature
from sightline.models import Models, ModelUnavailable
from sightline.models.runtime import LazyModel, ModelCache


class Loader:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        time.sleep(0.01)  # widen the window in which concurrent first uses could race
        return object()


def test_a_model_loads_once_for_many_threads() -> None:
    loader = Loader()
    model = LazyModel("m", loader)
    seen: list[object] = []

    def use() -> None:
        with model.acquire() as loaded:
            seen.append(loaded)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loader.calls == 1
    assert len({id(item) for item in seen}) == 1


def test_idle_models_unload_and_reload_on_next_use() -> None:
    loader = Loader()
    model = LazyModel("m", loader)
    with model.acquire():
        pass
    assert not model.unload_if_idle(60.0, time.monotonic())
    assert model.loaded
    assert model.unload_if_idle(60.0, time.monotonic() + 61)
    assert not model.loaded
    with model.acquire():
        pass
    assert loader.calls == 2


def test_a_model_in_use_is_never_unloaded() -> None:
    model = LazyModel("m", Loader())
    with model.acquire():
        assert not model.unload_if_idle(0.0, time.monotonic() + 3600)
        assert model.loaded


def test_the_reaper_unloads_idle_models() -> None:
    cache = ModelCache(idle_seconds=0.1)
    model = cache.get("m", Loader())
    with model.acquire():
        pass
    assert cache.loaded() == ["m"]
    deadline = time.monotonic() + 5
    while cache.loaded() and time.monotonic() < deadline:
        time.sleep(0.05)
    cache.close()
    assert cache.loaded() == []


def test_zero_idle_seconds_keeps_models_loaded() -> None:
    cache = ModelCache(idle_seconds=0)
    with cache.get("m", Loader()).acquire():
        pass
    assert cache.unload_idle(time.monotonic() + 10**6) == []
    assert cache.loaded() == ["m"]


def test_the_same_key_gives_the_same_model() -> None:
    cache = ModelCache(idle_seconds=0)
    assert cache.get("m", Loader()) is cache.get("m", Loader())


def test_a_missing_model_skips_the_feature_with_instructions(tmp_path: Path) -> None:
    models = Models(tmp_path, threads=1, idle_seconds=0)
    handle = models.onnx("efficientnet-lite0")  # registering loads nothing
    with pytest.raises(ModelUnavailable) as caught, handle.acquire():
        pass
    assert isinstance(caught.value, SkipFeature)
    assert "sightline models prepare" in caught.value.reason
