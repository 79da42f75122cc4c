"""The feature registry: every feature, cheap to build, JSON out."""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

import sightline.vision
from sightline.models import Models
from sightline.settings import DEFAULT_FEATURES, default_model_dir
from sightline.vision import Artifact, Picture, SkipFeature
from sightline.vision.registry import build_analyzers

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


def test_every_result_is_json_once_artifacts_are_replaced(
    models: Models, picture_of: PictureOf, photo: Photo
) -> None:
    picture = picture_of(photo(1, size=(480, 360)), "JPEG")

    def stored(value: object) -> object:
        return "blob" if isinstance(value, Artifact) else value

    skipped = []
    for name, analyzer in build_analyzers(models).items():
        try:
            result = analyzer.analyze(picture)
        except SkipFeature:
            skipped.append(name)
            continue
        json.dumps(result, allow_nan=False, default=stored)
    assert skipped == ["objects"]  # no detector ships: users add their own


@pytest.mark.parametrize("feature", sorted(BUNDLED - {"objects"}))
def test_model_features_are_skipped_with_instructions_when_missing(
    tmp_path: Path, picture_of: PictureOf, photo: Photo, feature: str
) -> None:
    """An empty model folder: prepared models are missing, packaged ones still work."""
    analyzer = build_analyzers(Models(tmp_path, threads=1, idle_seconds=0))[feature]
    picture = picture_of(photo(2), "JPEG")
    try:
        analyzer.analyze(picture)
    except SkipFeature as skip:
        assert feature in {"tags", "embedding", "people", "semantic"}
        assert "sightline models prepare" in skip.reason
    else:
        assert feature not in {"tags", "embedding", "people", "semantic"}


def test_public_api() -> None:
    assert sorted(sightline.vision.__all__) == sorted(
        ["Analyzer", "Artifact", "Picture", "SkipFeature", "decode"]
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
        for name, analyzer in build_analyzers(models).items():
            if name != "objects":  # no detector ships
                analyzer.analyze(picture)
        assert len(models.loaded()) == 6  # + all-minilm-l6-v2 (sentence model, class table)
    finally:
        models.close()


def test_the_runtime_does_not_need_the_conversion_tools() -> None:
    """torch and tensorflow are only in the throwaway converter environment."""
    for package in ("torch", "tensorflow", "tf2onnx"):
        assert importlib.util.find_spec(package) is None, package
