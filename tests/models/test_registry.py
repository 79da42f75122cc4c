"""Which models exist and whether each is ready."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sightline.errors import UnknownModel
from sightline.models import ModelRegistry
from sightline.models import registry as registry_module
from sightline.models.prepare import pending
from sightline.settings import default_model_dir

PACKAGED = {"centerface", "pp-ocr", "nudenet-320n"}
PREPARED = {
    "efficientnet-lite0",
    "movenet-multipose",
    "faceres",
    "all-minilm-l6-v2",
    "pp-ocr-det-int8",
    "centerface-int8",
}


def test_every_model_states_its_provenance(tmp_path: Path) -> None:
    specs = ModelRegistry(tmp_path).specs()
    assert {spec.name for spec in specs} >= PACKAGED | PREPARED
    for spec in specs:
        assert spec.version and spec.license and spec.source and spec.input_size
        assert spec.install_hint


def test_packaged_models_are_found_inside_installed_packages(tmp_path: Path) -> None:
    statuses = {status.spec.name: status for status in ModelRegistry(tmp_path).status()}
    for name in PACKAGED:
        status = statuses[name]
        assert status.ready, status.detail
        assert status.path is not None and status.path.exists()
        assert "site-packages" in str(status.path)


def test_unprepared_models_say_how_to_prepare_them(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    statuses = {status.spec.name: status for status in registry.status()}
    for name in PREPARED:
        assert not statuses[name].ready
        assert "sightline models prepare" in statuses[name].detail
    assert set(pending(registry)) == PREPARED


def test_a_model_from_an_older_recipe_needs_preparing_again(tmp_path: Path) -> None:
    folder = tmp_path / "movenet-multipose"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"onnx")
    (folder / "prepared.json").write_text(json.dumps({"recipe": "0"}))
    registry = ModelRegistry(tmp_path)
    status = next(s for s in registry.status() if s.spec.name == "movenet-multipose")
    assert status.path is not None and not status.ready
    assert "older recipe" in status.detail
    assert "movenet-multipose" in pending(registry)


def test_the_default_model_folder_is_prepared() -> None:
    """`make test` prepares the models before the tests run; nothing may be missing."""
    registry = ModelRegistry(default_model_dir())
    assert pending(registry) == []
    assert all(status.ready for status in registry.status()), [
        (status.spec.name, status.detail) for status in registry.status() if not status.ready
    ]


def test_unknown_names_are_not_found(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel):
        ModelRegistry(tmp_path).path("no-such-model")


def test_a_package_version_other_than_the_tested_one_is_pointed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statuses = {s.spec.name: s for s in ModelRegistry(tmp_path).status()}
    assert statuses["pp-ocr"].detail == "ready"
    monkeypatch.setattr(registry_module, "package_version", lambda _name: "9.9.9")
    status = next(s for s in ModelRegistry(tmp_path).status() if s.spec.name == "pp-ocr")
    assert status.ready
    assert "rapidocr 9.9.9 is installed (tested: 3.10.0)" in status.detail
