"""`sightline models list | prepare | add | remove`, and a user model in `sightline analyze`."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from sightline.cli import main
from sightline.models import prepare as prepare_module
from sightline.models.specs import BUILTIN
from sightline.settings import default_model_dir
from support.imagegen import encode
from support.onnxnets import fixed_output, pooled_linear, write_manifest

PREPARED = {spec.name for spec in BUILTIN if spec.prepared}
PACKAGED = {spec.name for spec in BUILTIN} - PREPARED
LABELS = ["red", "green", "blue", "grey"]
FAKE_CONVERTER = """\
import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path, required=True)
(parser.parse_known_args()[0].out / "model.onnx").write_bytes(b"placeholder")
"""


def sightline(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env)


def listed(model_dir: Path) -> dict[str, dict[str, Any]]:
    result = sightline("models", "list", "--json", "--model-dir", model_dir)
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A 16 x 16 classifier whose scores are the picture's mean red, green and blue (and 0 for
    grey), and a yolov8 detector with two classes that finds nothing."""
    folder = tmp_path / "source"
    folder.mkdir()
    weights = np.hstack([np.eye(3), np.zeros((3, 1))]).astype(np.float32)
    pooled_linear(folder / "net.onnx", weights, np.zeros(4, np.float32), width=16, height=16)
    fixed_output(folder / "det.onnx", np.zeros((1, 6, 10), np.float32), width=32, height=32)
    return folder


def classifier_manifest(source: Path, name: str = "colours") -> Path:
    return write_manifest(
        source,
        name=name,
        kind="classifier",
        model="net.onnx",
        labels=LABELS,
        input={"width": 16, "height": 16},
    )


def test_list_shows_every_built_in_model_and_what_each_needs(tmp_path: Path) -> None:
    rows = listed(tmp_path / "empty")
    assert set(rows) == {spec.name for spec in BUILTIN}
    for name in PREPARED:
        assert rows[name]["ready"] is False
        assert rows[name]["path"] is None
        assert "sightline models prepare" in rows[name]["detail"]
    for name in PACKAGED:
        assert rows[name]["ready"] is True, rows[name]
        assert rows[name]["detail"] == "ready"
        assert Path(rows[name]["path"]).exists()
    for row in rows.values():
        assert row["license"] and row["source"] and row["version"] and row["input_size"]


def test_list_as_a_table_marks_missing_models(tmp_path: Path) -> None:
    result = sightline("models", "list", "--model-dir", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    centerface = next(line for line in lines if line.startswith("centerface"))
    assert "ready" in centerface
    movenet = next(line for line in lines if line.startswith("movenet-multipose"))
    assert "MISSING" in movenet
    assert "sightline models prepare" in result.output


def test_the_model_dir_comes_from_the_environment_too(tmp_path: Path, source: Path) -> None:
    sightline("models", "add", classifier_manifest(source), "--model-dir", tmp_path)
    result = sightline("models", "list", "--json", env={"SIGHTLINE_MODEL_DIR": str(tmp_path)})
    assert "colours" in {row["name"] for row in json.loads(result.output)}


def test_prepare_check_fails_while_anything_needs_preparing(tmp_path: Path) -> None:
    result = sightline("models", "prepare", "--check", "--model-dir", tmp_path)
    assert result.exit_code == 1
    assert "Needs preparing: efficientnet-lite0, movenet-multipose" in result.output


def test_prepare_check_passes_on_the_default_model_folder() -> None:
    """`make test` prepares the default folder before the tests run."""
    result = sightline("models", "prepare", "--check", "--model-dir", default_model_dir())
    assert result.exit_code == 0, result.output
    assert "All prepared." in result.output


def test_prepare_reports_each_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    converters = tmp_path / "converters"
    converters.mkdir()
    for script in ("efficientnet_lite0.py", "tfjs_graph.py", "minilm.py", "int8.py"):
        (converters / script).write_text(FAKE_CONVERTER)
    monkeypatch.setattr(prepare_module, "CONVERTERS", converters)
    human_models = tmp_path / "human-models"
    human_models.mkdir()
    for graph in ("movenet-multipose", "faceres"):
        (human_models / f"{graph}.json").write_text("{}")
    model_dir = tmp_path / "models"
    command: list[str | Path] = [
        "models",
        "prepare",
        "--model-dir",
        model_dir,
        "--human-models",
        human_models,
    ]

    first = sightline(*command, "--converter-python", sys.executable)
    assert first.exit_code == 0, first.output
    for name in PREPARED:
        assert f"{name}: prepared in " in first.output
    assert sightline("models", "prepare", "--check", "--model-dir", model_dir).exit_code == 0
    assert all(listed(model_dir)[name]["ready"] for name in PREPARED)

    again = sightline(*command, env={"SIGHTLINE_CONVERTER_PYTHON": sys.executable})
    assert again.exit_code == 0, again.output
    assert sorted(again.output.splitlines()) == sorted(f"{name}: up to date" for name in PREPARED)


def test_prepare_without_a_converter_python_fails_cleanly(tmp_path: Path) -> None:
    result = sightline("models", "prepare", "--model-dir", tmp_path)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "--converter-python" in result.output
    assert "Traceback" not in result.output


def test_add_list_and_remove_a_user_classifier(tmp_path: Path, source: Path) -> None:
    manifest = classifier_manifest(source)
    added = sightline("models", "add", manifest, "--model-dir", tmp_path)
    assert added.exit_code == 0, added.output
    assert "Added colours" in added.output
    assert "its feature is model:colours" in added.output
    row = listed(tmp_path)["colours"]
    assert row["ready"] is True and row["detail"] == "ready"
    assert row["task"] == "classifier (4 labels, user model)"
    assert row["input_size"] == "16x16"

    removed = sightline("models", "remove", "colours", "--model-dir", tmp_path)
    assert removed.exit_code == 0, removed.output
    assert "Removed colours." in removed.output
    assert "colours" not in listed(tmp_path)


def test_adding_a_taken_name_needs_replace(tmp_path: Path, source: Path) -> None:
    manifest = classifier_manifest(source)
    assert sightline("models", "add", manifest, "--model-dir", tmp_path).exit_code == 0
    version = listed(tmp_path)["colours"]["version"]

    again = sightline("models", "add", manifest, "--model-dir", tmp_path)
    assert again.exit_code == 1
    assert "Error: A user model named 'colours' exists; pass --replace" in again.output

    (source / "manifest.json").write_text(
        json.dumps(json.loads(manifest.read_text()) | {"version": "2"})
    )
    replaced = sightline("models", "add", manifest, "--replace", "--model-dir", tmp_path)
    assert replaced.exit_code == 0, replaced.output
    assert listed(tmp_path)["colours"]["version"] != version


def test_a_user_detector_feeds_the_objects_feature(tmp_path: Path, source: Path) -> None:
    manifest = write_manifest(
        source,
        name="pets",
        kind="detector",
        model="det.onnx",
        labels=["cat", "dog"],
        format="yolov8",
        input={"width": 32, "height": 32},
    )
    added = sightline("models", "add", manifest, "--model-dir", tmp_path)
    assert added.exit_code == 0, added.output
    assert "its feature is objects" in added.output
    assert listed(tmp_path)["pets"]["ready"] is True


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"name": "Bad Name"}, "name: String should match pattern"),
        ({"name": "centerface"}, "'centerface' is a built-in model's name"),
        ({"labels": ["red", "green", "blue"]}, "(4 scores) but the manifest lists 3 labels"),
    ],
)
def test_a_bad_manifest_is_refused_with_its_reason(
    tmp_path: Path, source: Path, manifest: dict[str, Any], message: str
) -> None:
    path = classifier_manifest(source)
    path.write_text(json.dumps(json.loads(path.read_text()) | manifest))
    result = sightline("models", "add", path, "--model-dir", tmp_path / "models")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "models" / "user").exists() or not any(
        (tmp_path / "models" / "user").iterdir()
    )


def test_removing_an_unknown_model_fails_cleanly(tmp_path: Path) -> None:
    for name in ("nothing-here", "centerface", "../etc"):
        result = sightline("models", "remove", name, "--model-dir", tmp_path)
        assert result.exit_code == 1, name
        assert f"Error: No user model named {name!r}." in result.output
    assert "centerface" in listed(tmp_path)


def test_analyze_runs_a_user_model(tmp_path: Path, source: Path) -> None:
    model_dir = tmp_path / "models"
    added = sightline("models", "add", classifier_manifest(source), "--model-dir", model_dir)
    assert added.exit_code == 0, added.output
    photo = tmp_path / "red.png"
    photo.write_bytes(encode(Image.new("RGB", (40, 30), (255, 0, 0)), "PNG"))

    result = sightline(
        "analyze",
        "--features",
        "model:colours,color",
        photo,
        env={"SIGHTLINE_MODEL_DIR": str(model_dir)},
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)[str(photo)]
    entry = report["model:colours"]
    assert entry["status"] == "done", entry
    assert entry["result"]["model"]["name"] == "colours"
    assert entry["result"]["model"]["version"] == listed(model_dir)["colours"]["version"]
    labels = entry["result"]["labels"]
    assert [label["name"] for label in labels][0] == "red"
    assert sorted(label["name"] for label in labels) == sorted(LABELS)
    # Scores are the channel means (1, 0, 0, 0); softmax gives red e / (e + 3).
    assert labels[0]["confidence"] == pytest.approx(math.e / (math.e + 3), abs=1e-4)
    assert report["color"]["status"] == "done"


def test_analyze_does_not_know_a_model_from_another_folder(tmp_path: Path, source: Path) -> None:
    sightline("models", "add", classifier_manifest(source), "--model-dir", tmp_path / "a")
    photo = tmp_path / "red.png"
    photo.write_bytes(encode(Image.new("RGB", (8, 8), "red"), "PNG"))
    result = sightline(
        "analyze",
        "--features",
        "model:colours",
        photo,
        env={"SIGHTLINE_MODEL_DIR": str(tmp_path / "b")},
    )
    assert result.exit_code == 2
    assert "model:colours" in result.output


def test_prepare_shows_progress_per_model_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal the conversions draw a bar per model and one overall, with no log lines."""
    converters = tmp_path / "converters"
    converters.mkdir()
    for script in ("efficientnet_lite0.py", "tfjs_graph.py", "minilm.py", "int8.py"):
        (converters / script).write_text(FAKE_CONVERTER)
    monkeypatch.setattr(prepare_module, "CONVERTERS", converters)
    human_models = tmp_path / "human-models"
    human_models.mkdir()
    for graph in ("movenet-multipose", "faceres"):
        (human_models / f"{graph}.json").write_text("{}")
    result = sightline(
        "models",
        "prepare",
        "--model-dir",
        tmp_path / "models",
        "--human-models",
        human_models,
        "--converter-python",
        sys.executable,
        env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    assert "All models" in result.stderr
    for name in PREPARED:
        assert f"{name}: ready in " in result.stderr
    assert "INFO" not in result.output and f"{next(iter(PREPARED))}: prepared" not in result.stdout
