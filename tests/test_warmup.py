"""Models warmed at start-up: loaded in the background, reported by readiness, then idle like
any other model."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from conftest import TEST_SETTINGS, serve
from sightline import Client
from sightline.app import Sightline
from sightline.models.runtime import LazyModel, ModelCache
from sightline.settings import Settings
from sightline.vision import Analysis, Independent, Inputs, Picture, ResultModel
from sightline.warmup import ModelWarmup
from support.imagegen import solid


class Loaded(ResultModel):
    model: str


class ModelAnalyzer(Independent):
    """A feature whose model loads only once `release` is set."""

    version = "1"
    result_model = Loaded

    def __init__(self, name: str, cache: ModelCache, release: threading.Event) -> None:
        self.name = name
        self.loads = 0

        def load() -> str:
            release.wait(30)
            self.loads += 1
            return f"{name}-model"

        self.model: LazyModel[str] = cache.get(name, load)

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        with self.model.acquire() as model:
            return Analysis(Loaded(model=model))


def until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_only_the_default_features_models_are_warmed_and_then_unloaded_when_idle() -> None:
    cache, release = ModelCache(idle_seconds=0.2), threading.Event()
    wanted = ModelAnalyzer("wanted", cache, release)
    other = ModelAnalyzer("other", cache, release)
    warmup = ModelWarmup({"wanted": wanted, "other": other}, ["wanted"])
    warmup.start()
    check = warmup.check()
    assert check is not None and "wanted" in check.reason and "other" not in check.reason
    release.set()
    until(lambda: warmup.check() is None)
    assert (wanted.loads, other.loads) == (1, 0)
    assert cache.loaded() == ["wanted"]
    until(lambda: cache.loaded() == [])  # SIGHTLINE_MODEL_IDLE_SECONDS: warming is one use
    cache.close()


def test_readiness_says_models_are_warming_while_uploads_are_taken(tmp_path: Path) -> None:
    release = threading.Event()
    settings = Settings(
        data_dir=tmp_path / "data",
        **{**TEST_SETTINGS, "default_features": "modelled", "warm_models": True},  # type: ignore[arg-type]
    )
    cache = ModelCache(idle_seconds=0)
    analyzer = ModelAnalyzer("modelled", cache, release)
    app = Sightline(settings, analyzers={"modelled": analyzer})
    try:
        with serve(app) as running, Client(running.url, timeout=30) as client:
            warming = httpx.get(f"{running.url}/readyz")
            assert warming.status_code == 200
            assert warming.json()["checks"]["models"] == "degraded"
            assert "warming up" in warming.json()["reasons"]["models"]
            image = client.upload(solid("red"))  # taken while warming
            release.set()
            assert client.wait(image["id"])["features"]["modelled"]["result"] == {
                "model": "modelled-model"
            }
            until(lambda: httpx.get(f"{running.url}/readyz").json()["status"] == "ready")
            assert analyzer.loads == 1  # warmed once, never loaded again for the upload
    finally:
        release.set()
        app.close()
        cache.close()


def test_with_warm_up_off_a_model_loads_on_first_use(tmp_path: Path) -> None:
    release = threading.Event()
    release.set()
    settings = Settings(
        data_dir=tmp_path / "data",
        **{**TEST_SETTINGS, "default_features": "modelled", "warm_models": False},  # type: ignore[arg-type]
    )
    cache = ModelCache(idle_seconds=0)
    analyzer = ModelAnalyzer("modelled", cache, release)
    app = Sightline(settings, analyzers={"modelled": analyzer})
    try:
        with serve(app) as running, Client(running.url, timeout=30) as client:
            assert httpx.get(f"{running.url}/readyz").json()["checks"]["models"] != "degraded"
            time.sleep(1)  # past the delay after which warm-up would have started
            assert analyzer.loads == 0
            image = client.upload(solid("red"))
            assert client.wait(image["id"])["status"] == "done"
            assert analyzer.loads == 1
    finally:
        app.close()
        cache.close()


def test_the_collections_opted_into_faces_warm_the_face_models(tmp_path: Path) -> None:
    values = TEST_SETTINGS | {"warm_models": True, "default_features": "metadata"}
    warmed = {}
    for opted_in in ("", "claims"):
        settings = Settings(data_dir=tmp_path / "data", face_collections=opted_in, **values)  # type: ignore[arg-type]
        app = Sightline(settings)
        try:
            warmed[opted_in] = {handle.name for handle in app.warmup.handles}
        finally:
            app.close()
    assert warmed[""] == set()
    assert {name.split(":")[0].split("-")[0] for name in warmed["claims"]} == {
        "centerface",
        "faceres",
    }
