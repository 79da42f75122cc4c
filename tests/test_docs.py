"""The README stays true to the code: every setting, command, error code and event type is
documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from sightline import errors
from sightline.cli import main
from sightline.events import EventType
from sightline.settings import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"`SIGHTLINE_{field.upper()}`" in README


@pytest.mark.parametrize("command", list(main.commands))
def test_every_command_is_documented(command: str) -> None:
    assert f"sightline {command}" in README


def test_quick_start_has_exactly_the_two_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick_start.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert ci.strip().endswith("exec make test")


@pytest.mark.parametrize(
    "code",
    sorted(
        {
            error.code
            for error in vars(errors).values()
            if isinstance(error, type) and issubclass(error, errors.SightlineError)
        }
        - {
            "InternalError",
            "InvalidInput",
            "PayloadTooLarge",
            "ConfigurationError",
            "Forbidden",
            "TooManyRequests",
        }
    ),
)
def test_every_error_code_is_documented(code: str) -> None:
    assert f"`{code}`" in README


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_type_is_documented(event_type: EventType) -> None:
    assert f"`{event_type}`" in README
