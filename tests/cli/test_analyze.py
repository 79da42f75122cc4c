"""`sightline analyze`: the pipeline once on local files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from sightline.cli import main
from sightline.settings import DEFAULT_FEATURES
from support.imagegen import encode, solid


def test_analyze_prints_every_default_feature_as_json(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(Image.new("RGB", (300, 200), "red"), "PNG"))
    result = CliRunner().invoke(main, ["analyze", str(photo)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)[str(photo)]
    assert list(report) == list(DEFAULT_FEATURES)
    assert {name: entry["status"] for name, entry in report.items()} == dict.fromkeys(
        DEFAULT_FEATURES, "done"
    )
    assert report["color"]["result"]["dominant_colors"] == ["red"]
    assert report["metadata"]["result"]["width"] == 300
    thumb = report["thumbnail"]["result"]["sizes"]["128"]
    assert (thumb["width"], thumb["height"]) == (128, 86)  # as Pillow sizes it
    assert len(thumb["sha256"]) == 64


def test_analyze_reports_bad_files_and_fails(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(solid())
    bad.write_bytes(b"not an image")
    result = CliRunner().invoke(main, ["analyze", "--features", "color", str(good), str(bad)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert set(report[str(good)]) == {"color"}
    assert report[str(bad)]["error"]["code"] == "InvalidImageFormat"


def test_analyze_rejects_unknown_features(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(solid())
    result = CliRunner().invoke(main, ["analyze", "--features", "telepathy", str(photo)])
    assert result.exit_code == 2
    assert "telepathy" in result.output


def test_an_unknown_default_feature_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(solid())
    monkeypatch.setenv("SIGHTLINE_DEFAULT_FEATURES", "color,telepathy")
    result = CliRunner().invoke(main, ["analyze", str(photo)])
    assert result.exit_code == 2
    assert "SIGHTLINE_DEFAULT_FEATURES" in result.output and "telepathy" in result.output


def test_smart_crop_ratios_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(solid("red", (320, 240)))
    monkeypatch.setenv("SIGHTLINE_SMART_CROP_RATIOS", "2:1, 1.5")
    result = CliRunner().invoke(main, ["analyze", "--features", "smart_crop", str(photo)])
    assert result.exit_code == 0, result.output
    crops = json.loads(result.output)[str(photo)]["smart_crop"]["result"]["crops"]
    assert [crop["aspect_ratio"] for crop in crops] == [2.0, 1.5]
    monkeypatch.setenv("SIGHTLINE_SMART_CROP_RATIOS", "16:0")
    refused = CliRunner().invoke(main, ["analyze", "--features", "smart_crop", str(photo)])
    assert refused.exit_code == 2
    assert "16:0" in refused.output
