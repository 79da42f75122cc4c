"""Log lines: JSON objects for collectors, text for people, with the context of each."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sightline.cli import main
from sightline.logs import LogFormat, configure, log_context


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """`configure`'s handlers removed and the root level put back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _write(stream: io.StringIO, log_format: LogFormat) -> str:
    configure("INFO", log_format, stream, force=True)
    log = logging.getLogger("sightline.test")
    with log_context(request_id="r-1", job_id="analyze:e-1", image_id=None):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("Job %s failed", "analyze:e-1")
    log.debug("not at INFO")
    return stream.getvalue()


def test_json_lines_carry_the_context_and_the_traceback_as_one_field() -> None:
    [line] = _write(io.StringIO(), "auto").splitlines()  # auto: not a terminal, JSON
    record = json.loads(line)
    assert record["message"] == "Job analyze:e-1 failed"
    assert (record["level"], record["logger"]) == ("ERROR", "sightline.test")
    assert (record["request_id"], record["job_id"]) == ("r-1", "analyze:e-1")
    assert "image_id" not in record and record["time"].endswith("+00:00")
    assert record["exception"].startswith("Traceback") and "ValueError: boom" in record["exception"]


def test_text_lines_on_a_terminal_name_the_context() -> None:
    text = _write(Terminal(), "auto")
    first = text.splitlines()[0]
    assert (
        "ERROR sightline.test: Job analyze:e-1 failed [request_id=r-1 job_id=analyze:e-1]" in first
    )
    assert "ValueError: boom" in text
    assert json.loads(_write(Terminal(), "json").splitlines()[-1])["request_id"] == "r-1"


def test_the_command_takes_its_log_format_from_the_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["queue", "dead", "--data-dir", str(tmp_path)], env={"SIGHTLINE_LOG_FORMAT": "xml"}
    )
    assert result.exit_code == 2 and "'xml' is not one of 'auto', 'json', 'text'" in result.output
