"""The `sightline` command itself: its help texts, exit statuses and logging."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from sightline.cli import main
from sightline.cli.root import CLIENT_COMMANDS


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


def test_help_documents_the_exit_statuses_and_the_server_variables() -> None:
    text = CliRunner().invoke(main, ["--help"]).output
    for line in ("0  done", "1  the server", "2  usage error", "3  cannot reach the server"):
        assert line in text
    for variable in ("SIGHTLINE_URL", "SIGHTLINE_API_KEY", "SIGHTLINE_COLLECTION"):
        assert variable in text


def client_commands() -> Iterator[tuple[list[str], click.Command]]:
    for command in CLIENT_COMMANDS:
        assert command.name is not None
        yield [command.name], command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield [command.name, name], sub


def test_every_client_command_shows_examples_and_the_server_options() -> None:
    for path, command in client_commands():
        text = CliRunner().invoke(main, [*path, "--help"]).output
        if len(path) == 1:  # a group's examples are on the group's own help
            assert "Example" in text and f"sightline {path[0]}" in text, path
        for variable in ("SIGHTLINE_URL", "SIGHTLINE_API_KEY", "SIGHTLINE_COLLECTION"):
            assert variable in text or isinstance(command, click.Group), (path, variable)


def test_commands_that_open_the_catalog_print_no_migration_lines(tmp_path: Path) -> None:
    """Alembic logs each step at INFO; a command's own output is all people should read."""
    ran = subprocess.run(
        [sys.executable, "-c", "from sightline.cli import main; main()", "keys", "list"],
        env={**os.environ, "SIGHTLINE_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert "alembic" not in ran.stderr and ran.stderr == ""
