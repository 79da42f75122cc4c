"""Features that reuse each other's work inside one job: smart crops keep the text `read`
found, whatever order the request named them in, and text is never read just for a crop;
they take the faces `faces` found, computed for them when not requested."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
from PIL import Image
from skimage import data

from sightline.images.pipeline import run_features
from sightline.models import Models
from sightline.vision import Analyzer, Picture, decode
from sightline.vision import faces as faces_module
from sightline.vision.registry import build_analyzers
from support.documents import claim_form
from support.imagegen import encode


@pytest.fixture(scope="module")
def analyzers(models: Models) -> dict[str, Analyzer]:
    return build_analyzers(models)


def form_picture() -> Picture:
    data = encode(claim_form().image, "PNG")
    return decode(data, max_bytes=50_000_000, max_pixels=80_000_000)


def results(analyzers: dict[str, Analyzer], features: list[str]) -> dict[str, dict[str, Any]]:
    runs = run_features(form_picture(), features, analyzers, lambda _artifact, _role: None)
    return {run.state.feature: run.state.result or {} for run in runs}


def test_a_crop_keeps_the_text_read_in_the_same_job(analyzers: dict[str, Analyzer]) -> None:
    found = results(analyzers, ["smart_crop", "read"])  # the crop named first on purpose
    lines = found["read"]["lines"]
    crop = found["smart_crop"]
    assert crop["regions"] == {"faces": 0, "text": len(lines)}
    four_three = next(c for c in crop["crops"] if c["aspect_ratio"] == round(4 / 3, 4))
    assert four_three["contains_all_regions"] is True
    box = four_three["box"]
    for line in lines:
        inner = line["box"]
        assert box["x"] <= inner["x"] and inner["x"] + inner["w"] <= box["x"] + box["w"]
        assert box["y"] <= inner["y"] and inner["y"] + inner["h"] <= box["y"] + box["h"]


def test_a_crop_alone_reads_no_text(
    analyzers: dict[str, Analyzer], monkeypatch: pytest.MonkeyPatch
) -> None:
    read = analyzers["read"]
    monkeypatch.setattr(read, "_read", _fail)
    crop = results(analyzers, ["smart_crop"])["smart_crop"]
    assert crop["regions"] == {"faces": 0}


def _fail(*_args: object) -> NoReturn:
    raise AssertionError("text was read for a crop alone")


def test_a_crop_takes_the_faces_found_in_the_same_job(
    analyzers: dict[str, Analyzer], monkeypatch: pytest.MonkeyPatch
) -> None:
    detections = []
    detect = faces_module.detect_faces

    def counting(*args: Any) -> Any:
        detections.append(1)
        return detect(*args)

    monkeypatch.setattr(faces_module, "detect_faces", counting)
    data_ = encode(Image.fromarray(data.astronaut()), "PNG")
    astronaut = decode(data_, max_bytes=50_000_000, max_pixels=80_000_000)
    runs = run_features(astronaut, ["smart_crop", "faces"], analyzers, lambda _a, _r: None)
    found = {run.state.feature: run.state.result or {} for run in runs}
    assert len(detections) == 1
    assert len(found["faces"]["faces"]) == 1
    assert found["smart_crop"]["regions"] == {"faces": 1}
    alone = run_features(astronaut, ["smart_crop"], analyzers, lambda _a, _r: None)
    assert len(detections) == 2  # computed for the crop, not stored
    assert [run.state.feature for run in alone] == ["smart_crop"]
    assert alone[0].state.result == found["smart_crop"]
