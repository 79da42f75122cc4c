"""Lazy, shared, idle-unloaded models."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sightline.errors import SkipFeature
from sightline.models import Models, ModelUnavailable
from sightline.models.runtime import CPU, CUDA, LazyModel, ModelCache, execution_providers


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


# No GPU on the machines these tests were written on: the choice is tested on the provider lists
# onnxruntime reports, which is all it depends on.
@pytest.mark.parametrize(
    ("device", "available", "chosen"),
    [
        ("auto", [CUDA, CPU], (CUDA, CPU)),
        ("auto", ["AzureExecutionProvider", CPU], (CPU,)),
        ("cpu", [CUDA, CPU], (CPU,)),
        ("cpu", [CPU], (CPU,)),
    ],
)
def test_a_cuda_gpu_is_used_when_there_is_one_unless_the_cpu_is_asked_for(
    device: str, available: list[str], chosen: tuple[str, ...]
) -> None:
    assert execution_providers(device, available) == chosen


def test_sessions_run_where_the_device_setting_says(tmp_path: Path) -> None:
    models = Models(tmp_path, threads=1, idle_seconds=0, device="cpu")
    assert models.providers == (CPU,)


@pytest.mark.parametrize(("precision", "int8"), [("int8", "centerface-int8"), ("fp32", None)])
def test_the_precision_picks_a_models_prepared_int8_copy(
    tmp_path: Path, precision: str, int8: str | None
) -> None:
    copy = tmp_path / "centerface-int8"
    copy.mkdir()
    (copy / "model.onnx").write_bytes(b"onnx")
    (copy / "prepared.json").write_text("{}")
    models = Models(tmp_path, threads=1, idle_seconds=0, precision=precision)
    assert models.int8("centerface") == int8
    assert models.int8("movenet-multipose") is None  # measured worse in int8: none prepared


def test_the_original_runs_until_the_int8_copy_is_prepared(tmp_path: Path) -> None:
    models = Models(tmp_path, threads=1, idle_seconds=0, precision="int8")
    assert models.int8("centerface") is None
