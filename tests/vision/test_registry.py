"""The feature registry: every feature, cheap to build, typed results out, stored JSON back in."""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

import sightline.vision
from sightline.images.pipeline import FeatureRun, run_features
from sightline.indexing import IndexEntries
from sightline.models import Models
from sightline.settings import DEFAULT_FEATURES, default_model_dir
from sightline.storage.records import FeatureStatus
from sightline.vision import Analyzer, Picture
from sightline.vision.registry import (
    RESULT_MODELS,
    build_analyzers,
    index_entries,
    stored_result,
)

PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]
BUNDLED = {*DEFAULT_FEATURES, "objects", "adult"}


def test_every_bundled_feature_is_registered_under_its_name(models: Models) -> None:
    analyzers = build_analyzers(models)
    assert set(analyzers) >= BUNDLED
    for name, analyzer in analyzers.items():
        assert analyzer.name == name
        assert analyzer.version


def test_building_loads_no_model(tmp_path: Path) -> None:
    models = Models(tmp_path, threads=1, idle_seconds=0)
    first, second = build_analyzers(models), build_analyzers(models)
    assert models.cache.loaded() == []
    assert all(first[name] is not second[name] for name in BUNDLED)


def runs(analyzers: dict[str, Analyzer], picture: Picture, features: list[str]) -> list[FeatureRun]:
    return run_features(picture, features, analyzers, lambda _artifact, _role: None)


def test_every_result_is_json_that_reads_back_unchanged(
    models: Models, picture_of: PictureOf, photo: Photo
) -> None:
    """What is stored is the result model's JSON, and reads back into the same model, byte for
    byte: the catalog indexes what a stored result declares."""
    analyzers = build_analyzers(models)
    picture = picture_of(photo(1, size=(480, 360)), "JPEG")
    skipped = []
    for run in runs(analyzers, picture, list(analyzers)):
        name, result = run.state.feature, run.state.result
        if run.state.status is FeatureStatus.SKIPPED:
            skipped.append(name)
            continue
        assert run.state.status is FeatureStatus.DONE, run.state.error
        assert run.analysis is not None and result is not None
        assert isinstance(run.analysis.result, analyzers[name].result_model)
        stored = json.dumps(result, allow_nan=False)
        again = stored_result(name, json.loads(stored))
        assert again is not None, name
        assert json.dumps(again.model_dump(mode="json")) == stored
        assert again.index_entries() == run.analysis.result.index_entries()
    assert skipped == ["objects"]  # no detector ships: users add their own


def test_result_models_are_those_of_the_bundled_analyzers(models: Models) -> None:
    bundled = {n: a for n, a in build_analyzers(models).items() if not n.startswith("model:")}
    assert {n: a.result_model for n, a in bundled.items()} == RESULT_MODELS


def test_stored_results_that_fit_no_model_are_left_out() -> None:
    assert stored_result("hash", {"phash": "00ff"}) is None  # older or foreign: no guessing
    assert stored_result("no-such-feature", {}) is None
    assert index_entries("hash", {"reason": "skipped"}) is None
    hashes = {"phash": "0f", "dhash": "1f", "ahash": "2f", "whash": "3f"}
    assert index_entries("hash", hashes) == IndexEntries(phash="0f")


@pytest.mark.parametrize("feature", sorted(BUNDLED - {"objects"}))
def test_model_features_are_skipped_with_instructions_when_missing(
    tmp_path: Path, picture_of: PictureOf, photo: Photo, feature: str
) -> None:
    """An empty model folder: prepared models are missing, packaged ones still work."""
    analyzers = build_analyzers(Models(tmp_path, threads=1, idle_seconds=0))
    [run] = runs(analyzers, picture_of(photo(2), "JPEG"), [feature])
    if feature in {"tags", "embedding", "people", "semantic"}:
        assert run.state.status is FeatureStatus.SKIPPED
        assert "sightline models prepare" in run.state.result["reason"]  # type: ignore[index]
    else:
        assert run.state.status is FeatureStatus.DONE


def test_public_api() -> None:
    assert sorted(sightline.vision.__all__) == sorted(
        [
            "Analysis",
            "Analyzer",
            "Artifact",
            "Decoder",
            "Independent",
            "Inputs",
            "Picture",
            "ResultModel",
            "SkipFeature",
            "decode",
        ]
    )


def test_loading_and_running_every_model_touches_no_network(
    monkeypatch: pytest.MonkeyPatch, picture_of: PictureOf, photo: Photo
) -> None:
    """No downloads at run time: models load from packages and the model folder only."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access during model loading or analysis")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    models = Models(default_model_dir(), threads=1, idle_seconds=0)  # fresh: nothing loaded
    picture = picture_of(photo(3, size=(400, 300)), "JPEG")
    try:
        analyzers = build_analyzers(models)
        features = [name for name in analyzers if name != "objects"]  # no detector ships
        for run in runs(analyzers, picture, features):
            assert run.state.status is FeatureStatus.DONE, run.state.feature
        assert len(models.loaded()) == 6  # + all-minilm-l6-v2 (sentence model, class table)
    finally:
        models.close()


def test_the_runtime_does_not_need_the_conversion_tools() -> None:
    """torch and tensorflow are only in the throwaway converter environment."""
    for package in ("torch", "tensorflow", "tf2onnx"):
        assert importlib.util.find_spec(package) is None, package
