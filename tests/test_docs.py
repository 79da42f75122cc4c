"""The README stays true to the code: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from sightline.cli import main
from sightline.settings import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"`SIGHTLINE_{field.upper()}`" in README


@pytest.mark.parametrize("command", list(main.commands))  # type: ignore[attr-defined]
def test_every_command_is_documented(command: str) -> None:
    assert f"sightline {command}" in README


def test_quick_start_has_exactly_the_two_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick_start.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert ci.strip().endswith("exec make test")
