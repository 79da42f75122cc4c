"""The recipes in docs/recipes run as written. Each test writes a recipe's input files in the
layout the recipe shows, runs its `console` commands (through bash, with this environment's
`sightline`) and its `python` blocks (in order, in one namespace) in that folder against a live
server, then checks what the recipe computed. `sightline serve` lines are skipped: the test
server stands in for them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningServer
from sightline.settings import Settings
from support.documents import POLICY_NUMBER
from support.recipedata import fashion_catalogue, game_session, insurance_claims

RECIPES = Path(__file__).parents[1] / "docs" / "recipes"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
COMMAND_TIMEOUT = 100


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """As `sightline serve` would run, but with a smaller default feature set: the recipes name
    the features they need, and the others would only cost time."""
    return Settings(
        data_dir=tmp_path / "data",
        workers=2,
        poll_interval_seconds=0.02,
        job_backoff_seconds=0.05,
        default_features="metadata,hash,thumbnail,tags,embedding",
    )


@pytest.fixture
def workdir(tmp_path: Path, server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The reader's folder; the recipes find the server through SIGHTLINE_URL."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("SIGHTLINE_URL", server.url)
    # The `sightline` of this environment, whether or not it is activated.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return folder


@dataclass
class Run:
    namespace: dict[str, Any]
    outputs: dict[str, str]  # console command -> its standard output


def blocks(markdown: str) -> Iterator[tuple[str, str]]:
    """(language, code) of each fenced block, in order. The code is padded with empty lines so
    that tracebacks give line numbers in the Markdown file."""
    for match in FENCE.finditer(markdown):
        padding = "\n" * markdown.count("\n", 0, match.start(2))
        yield match.group(1), padding + match.group(2)


def commands(console: str) -> Iterator[str]:
    """The `$ ` lines of a console block (the other lines show output)."""
    for line in console.splitlines():
        if line.startswith("$ "):
            yield line.removeprefix("$ ")


def run_recipe(name: str, folder: Path) -> Run:
    run = Run({"__name__": f"recipe_{name}"}, {})
    try:
        for language, code in blocks((RECIPES / name).read_text()):
            if language == "python":
                exec(compile(code, str(RECIPES / name), "exec"), run.namespace)
            elif language == "console":
                for command in commands(code):
                    if not command.startswith("sightline serve"):
                        run.outputs[command] = shell(command, folder)
    finally:
        client = run.namespace.get("client")
        if client is not None:
            client.close()
    return run


def shell(command: str, folder: Path) -> str:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def search_output_filenames(output: str) -> list[str]:
    """Piped, `sightline search` prints a header line, then `score<TAB>id<TAB>file<TAB>…`."""
    header, *rows = output.splitlines()
    assert header.split("\t")[:3] == ["Score", "ID", "File"]
    return [line.split("\t")[2] for line in rows]


def test_the_index_links_every_recipe_and_every_recipe_is_tested() -> None:
    index = (RECIPES / "README.md").read_text()
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    written = {path.name for path in RECIPES.glob("*.md")} - {"README.md"}
    tested = set(re.findall(r'run_recipe\("([\w-]+\.md)"', Path(__file__).read_text()))
    assert linked == written == tested


def test_fashion_catalogue(workdir: Path) -> None:
    truth = fashion_catalogue(workdir)
    run = run_recipe("fashion-catalogue.md", workdir)
    found = run.namespace

    labelled = run.outputs[next(c for c in run.outputs if "classifiers label" in c)]
    rows = [line.split("\t") for line in labelled.splitlines() if not line.startswith("File\t")]
    assert [row[2] for row in rows] == ["uploaded"] * 18

    assert found["version"]["status"] == "ready", found["version"]
    assert found["metrics"]["overall"]["accuracy"] >= 0.9, found["metrics"]
    unsorted = {sku: kind for sku, kind in truth.items() if sku != "sku-501"}
    assert found["labels"] == unsorted
    assert found["arrival_label"] == ["dress"]

    dresses = {f"sku-1{n:02d}.jpg" for n in range(1, 7)} | {
        f"{sku}.jpg" for sku, kind in truth.items() if kind == "dress"
    }
    assert sorted(found["dresses"]) == sorted(dresses)
    assert set(found["found"][: len(dresses)]) == dresses  # labels outrank tags
    cli_search = run.outputs["sightline search --label dress --limit 50"]
    assert sorted(search_output_filenames(cli_search)) == sorted(dresses)

    bundle = zipfile.ZipFile(workdir / "shop-v1.zip")
    assert bundle.read("labels.txt").decode().split() == ["dress", "shirt", "trousers"]
    assert "model.onnx" in bundle.namelist()


def test_insurance_claims(workdir: Path) -> None:
    truth = insurance_claims(workdir)
    run = run_recipe("insurance-claims.md", workdir)
    found = run.namespace

    assert POLICY_NUMBER in found["form_text"]
    assert found["policy_claims"] == truth.policy_claims
    cli_search = run.outputs[f'sightline search "{POLICY_NUMBER}"']
    assert search_output_filenames(cli_search) == ["form.png"]

    pairs = {
        frozenset({tuple(photo.split("/")), tuple(other.split("/"))}): exact
        for photo, other, _distance, exact in found["suspicious"]
    }
    assert pairs == truth.duplicates
    assert all(distance <= 6 for _, _, distance, _ in found["suspicious"])


def test_game_telemetry(workdir: Path) -> None:
    huds = game_session(workdir)
    run = run_recipe("game-telemetry.md", workdir)

    tried = json.loads(run.outputs["sightline analyze screenshots/frame-0001.png --features read"])
    first = tried["screenshots/frame-0001.png"]["read"]["result"]["text"].splitlines()
    assert first == list(huds[0].texts())

    expected = [
        {"frame": n, "t": (n - 1) * 2.0, **asdict(hud)} for n, hud in enumerate(huds, start=1)
    ]
    # The HUD is crisp text on dark panels: every value is read exactly.
    assert run.namespace["series"] == expected
    rows = list(csv.DictReader(io.StringIO((workdir / "telemetry.csv").read_text())))
    assert rows == [{key: str(value) for key, value in row.items()} for row in expected]
    saved = json.loads((workdir / "telemetry.json").read_text())
    assert saved == {"session": "s-42", "frames": expected}
