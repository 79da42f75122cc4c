from __future__ import annotations

import json
from collections.abc import Callable

from PIL import Image

import sightline.vision
from sightline.vision import Artifact, Picture, default_analyzers
from sightline.vision.registry import DEFAULT_FEATURES

PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]


def test_default_analyzers_match_default_features() -> None:
    analyzers = default_analyzers()
    assert tuple(analyzers) == DEFAULT_FEATURES == ("metadata", "color", "hash", "thumbnail")
    for name, analyzer in analyzers.items():
        assert analyzer.name == name
        assert analyzer.version


def test_instances_are_fresh() -> None:
    first, second = default_analyzers(), default_analyzers()
    assert all(first[name] is not second[name] for name in DEFAULT_FEATURES)


def test_results_are_json_once_artifacts_are_replaced(picture_of: PictureOf, photo: Photo) -> None:
    picture = picture_of(photo(1), "JPEG")

    def stored(value: object) -> object:
        return "blob" if isinstance(value, Artifact) else value

    for analyzer in default_analyzers().values():
        json.dumps(analyzer.analyze(picture), allow_nan=False, default=stored)


def test_public_api() -> None:
    assert sorted(sightline.vision.__all__) == sorted(
        ["Analyzer", "Artifact", "Picture", "SkipFeature", "decode", "default_analyzers"]
    )
