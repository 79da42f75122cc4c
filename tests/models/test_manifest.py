"""User models: manifests are checked against their ONNX files, installed atomically, listed,
replaced and removed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sightline.errors import InvalidModel, UnknownModel
from sightline.models import ModelRegistry
from sightline.models.manifest import (
    ModelManifest,
    add_user_model,
    feature_of,
    load_manifest,
    remove_user_model,
    user_specs,
)
from support.onnxnets import (
    fixed_output,
    pooled_linear,
    text_encoder,
    word_tokenizer,
    write_manifest,
)

LABELS = ["red", "green", "blue", "grey"]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A folder with a 32 x 24 four-class classifier, a yolov8 detector and a clip pair."""
    folder = tmp_path / "source"
    folder.mkdir()
    weights = np.arange(12, dtype=np.float32).reshape(3, 4)
    pooled_linear(folder / "net.onnx", weights, np.zeros(4, np.float32), width=32, height=24)
    fixed_output(folder / "det.onnx", np.zeros((1, 6, 10), np.float32), width=32, height=32)
    pooled_linear(
        folder / "image.onnx", np.eye(3, dtype=np.float32), np.zeros(3), width=8, height=8
    )
    text_encoder(folder / "text.onnx", np.ones((5, 3), dtype=np.float32))
    word_tokenizer(folder / "tokenizer.json", ["red", "green", "blue"])
    (folder / "labels.txt").write_text("\n".join(LABELS) + "\n\n")
    return folder


def classifier(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "colours",
        "kind": "classifier",
        "model": "net.onnx",
        "labels": LABELS,
        "input": {"width": 32, "height": 24},
        **overrides,
    }


def detector(**overrides: Any) -> dict[str, Any]:
    fields = {"model": "det.onnx", "labels": ["cat", "dog"], "format": "yolov8"}
    return classifier(kind="detector", input={"width": 32, "height": 32}, **fields | overrides)


def clip(**overrides: Any) -> dict[str, Any]:
    fields = {
        "name": "tiny-clip",
        "kind": "clip",
        "model": "image.onnx",
        "text_model": "text.onnx",
        "tokenizer": "tokenizer.json",
        "text_max_length": 6,
        "input": {"width": 8, "height": 8},
    }
    return fields | overrides


def add(model_dir: Path, source: Path, manifest: dict[str, Any], **options: bool) -> Any:
    return add_user_model(model_dir, write_manifest(source, **manifest), **options)


def test_an_added_model_is_listed_with_its_normalised_manifest(
    tmp_path: Path, source: Path
) -> None:
    model_dir = tmp_path / "models"
    spec = add(model_dir, source, classifier(labels="labels.txt", license="MIT"))
    assert spec.name == "colours" and spec.license == "MIT"
    assert spec.version.startswith("1+") and len(spec.version) == 10
    assert spec.input_size == "32x24" and "classifier (4 labels" in spec.task
    folder = model_dir / "user" / "colours"
    assert sorted(path.name for path in folder.iterdir()) == [
        "added.json",
        "manifest.json",
        "model.onnx",
    ]
    assert spec.locate(model_dir) == folder / "model.onnx"
    assert spec.manifest["labels"] == LABELS  # read from the file, inline from now on
    assert spec.manifest["model"] == "model.onnx"
    assert spec.manifest["input"]["resize"] == "center_crop"  # the classifier default
    assert spec.manifest["input"]["scale"] == pytest.approx(1 / 255)
    assert load_manifest(spec).activation == "softmax"
    assert feature_of(spec) == "model:colours"
    assert [s.name for s in user_specs(model_dir)] == ["colours"]
    assert ModelRegistry(model_dir).get("colours") == spec
    assert not [p for p in (model_dir / "user").iterdir() if p.name.startswith(".")]


def test_a_detector_and_a_clip_pair_are_added(tmp_path: Path, source: Path) -> None:
    spec = add(tmp_path, source, detector(name="pets", format="yolov8"))
    assert feature_of(spec) == "objects" and "yolov8, 2 labels" in spec.task
    assert spec.manifest["input"]["resize"] == "letterbox"
    pair = add(tmp_path, source, clip())
    assert feature_of(pair) == "model:tiny-clip"
    stored = sorted(path.name for path in (tmp_path / "user" / "tiny-clip").iterdir())
    assert stored == [
        "added.json",
        "manifest.json",
        "model.onnx",
        "text_model.onnx",
        "tokenizer.json",
    ]
    assert (pair.manifest["text_model"], pair.manifest["tokenizer"]) == (
        "text_model.onnx",
        "tokenizer.json",
    )


def test_the_stored_manifest_can_be_added_again(tmp_path: Path, source: Path) -> None:
    spec = add(
        tmp_path / "a", source, classifier(input={"width": 32, "height": 24, "scale": "1/255"})
    )
    again = add_user_model(tmp_path / "b", tmp_path / "a" / "user" / "colours" / "manifest.json")
    assert again.manifest == spec.manifest and again.version == spec.version


def test_a_name_is_refused_while_taken_unless_replacing(tmp_path: Path, source: Path) -> None:
    first = add(tmp_path, source, classifier())
    with pytest.raises(InvalidModel, match="exists; pass --replace"):
        add(tmp_path, source, classifier())
    pooled_linear(
        source / "net.onnx", np.ones((3, 4), np.float32), np.zeros(4), width=32, height=24
    )
    replaced = add(tmp_path, source, classifier(description="retrained"), replace=True)
    assert replaced.version != first.version  # new files, new version
    assert "retrained" in replaced.source
    stricter = add(tmp_path, source, classifier(description="retrained", iou=0.3), replace=True)
    assert stricter.version != replaced.version  # same files, other settings: new version
    assert [s.name for s in user_specs(tmp_path)] == ["colours"]


def test_built_in_names_are_refused(tmp_path: Path, source: Path) -> None:
    with pytest.raises(InvalidModel, match="built-in"):
        add(tmp_path, source, classifier(name="centerface"))


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (classifier(name="Colours!"), "name"),
        (classifier(labels=None), "needs labels"),
        (classifier(labels=[]), "needs labels"),
        (classifier(kind="regressor"), "kind"),
        (classifier(unknown=1), "unknown"),
        (detector(format=None), "yolov8 or yolov5"),
        (clip(tokenizer=None), "needs tokenizer"),
        (clip(labels=["a"]), "no labels"),
        (classifier(text_model="text.onnx"), "only apply to clip"),
        (classifier(input={"width": 32, "height": 24, "dtype": "uint8", "scale": 1}), "uint8"),
        (classifier(input={"width": 32, "height": 24, "std": [1, 0, 1]}), "std"),
        (classifier(input={"width": 32, "height": 24, "scale": "1/0"}), "scale"),
    ],
)
def test_invalid_manifests_are_explained(
    tmp_path: Path, source: Path, manifest: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidModel, match=message):
        add(tmp_path, source, manifest)
    assert user_specs(tmp_path) == []


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            classifier(input={"width": 64, "height": 24}),
            r"input \[1, 3, 24, 64\].*\[1, 3, 24, 32\]",
        ),
        (classifier(input={"width": 32, "height": 24, "layout": "NHWC"}), "NHWC"),
        (classifier(input={"width": 32, "height": 24, "dtype": "uint8"}), "takes tensor.float"),
        (classifier(labels=["red", "green"]), r"\(4 scores\).*2 labels"),
        (detector(labels=["cat"]), r"\[1, 5, N\].*\[1, 6, 10\]"),
        (detector(format="yolov5"), r"\[1, N, 7\]"),
        (classifier(model="missing.onnx"), "does not exist"),
        (classifier(model="labels.txt"), "onnxruntime can load"),
        (classifier(output="logits"), "no output 'logits'"),
        (clip(text_model="net.onnx"), "trial run of the text model"),
    ],
)
def test_manifests_are_checked_against_the_model(
    tmp_path: Path, source: Path, manifest: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidModel, match=message):
        add(tmp_path, source, manifest)
    assert not (tmp_path / "user" / manifest["name"]).exists()


def test_a_clip_pair_must_share_its_dimensions(tmp_path: Path, source: Path) -> None:
    text_encoder(source / "text.onnx", np.ones((5, 4), dtype=np.float32))
    with pytest.raises(InvalidModel, match="one embedding space"):
        add(tmp_path, source, clip())


def test_a_tokenizer_larger_than_the_text_model_is_refused(tmp_path: Path, source: Path) -> None:
    text_encoder(source / "text.onnx", np.ones((3, 3), dtype=np.float32))  # 5 tokens needed
    with pytest.raises(InvalidModel, match="trial run"):
        add(tmp_path, source, clip())


def test_a_labels_file_with_a_gap_is_refused(tmp_path: Path, source: Path) -> None:
    (source / "labels.txt").write_text("red\n\ngreen\nblue\ngrey\n")
    with pytest.raises(InvalidModel, match="empty lines"):
        add(tmp_path, source, classifier(labels="labels.txt"))


def test_a_broken_user_model_is_skipped_not_fatal(
    tmp_path: Path, source: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add(tmp_path, source, classifier())
    broken = tmp_path / "user" / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    renamed = tmp_path / "user" / "renamed"
    renamed.mkdir()
    (renamed / "manifest.json").write_text(json.dumps(classifier()))
    with caplog.at_level(logging.WARNING):
        assert [spec.name for spec in user_specs(tmp_path)] == ["colours"]
    assert "broken" in caplog.text and "renamed" in caplog.text


def test_remove(tmp_path: Path, source: Path) -> None:
    add(tmp_path, source, classifier())
    remove_user_model(tmp_path, "colours")
    assert user_specs(tmp_path) == []
    assert list((tmp_path / "user").iterdir()) == []
    with pytest.raises(UnknownModel):
        remove_user_model(tmp_path, "colours")
    for name in ("..", "colours\n", ""):
        with pytest.raises(UnknownModel):
            remove_user_model(tmp_path, name)


def test_built_in_models_have_no_manifest(tmp_path: Path) -> None:
    with pytest.raises(InvalidModel, match="not a user model"):
        load_manifest(ModelRegistry(tmp_path).get("centerface"))


def test_the_manifest_model_accepts_the_documented_example() -> None:
    manifest = ModelManifest.model_validate(
        {
            "name": "pets",
            "kind": "detector",
            "model": "pets.onnx",
            "labels": "labels.txt",
            "format": "yolov8",
            "confidence": 0.3,
            "iou": 0.5,
            "input": {
                "width": 640,
                "height": 640,
                "layout": "NCHW",
                "color": "RGB",
                "dtype": "float32",
                "scale": "1/255",
                "mean": [0, 0, 0],
                "std": [1, 1, 1],
                "resize": "letterbox",
            },
            "license": "AGPL-3.0",
            "description": "cats and dogs",
            "version": "2",
        }
    )
    assert manifest.input.scale == pytest.approx(1 / 255)
