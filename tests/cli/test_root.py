"""The `sightline` command itself: its help texts."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from sightline.cli import main


def test_help_lists_the_commands_and_env_variables() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "analyze", "upload"):
        assert command in result.output
    serve_help = CliRunner().invoke(main, ["serve", "--help"]).output
    for variable in ("SIGHTLINE_HOST", "SIGHTLINE_PORT", "SIGHTLINE_DATA_DIR"):
        assert variable in serve_help


def test_every_help_text_shows_real_defaults() -> None:
    def helps(group: click.Group, path: list[str]) -> Iterator[str]:
        for name, command in group.commands.items():
            yield CliRunner().invoke(main, [*path, name, "--help"]).output
            if isinstance(command, click.Group):
                yield from helps(command, [*path, name])

    outputs = list(helps(main, []))
    assert len(outputs) >= 15
    assert not [output for output in outputs if "PydanticUndefined" in output]
