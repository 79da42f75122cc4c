"""Log lines for people and for log collectors, and what they are about.

`configure` sets up the root logger once per process: JSON lines (one object a line: `time`,
`level`, `logger`, `message`, the context below where known, `exception` as one string) or
text lines; `auto` picks JSON when stderr is not a terminal (a container, systemd, a pipe).

`log_context` names what the current code works for: the API sets `request_id` for each
request (`X-Request-ID`), a worker sets `job_id`, `image_id` and the `request_id` the job
carries. Every log line in that context carries them, and so does every event made in it
(`events.cloud_event`), which is how a request id travels from the API into the job it asks
for. Context variables follow each request into the thread pool; a new thread starts without.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["auto", "json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "json", "text")
CONTEXT_FIELDS = ("request_id", "job_id", "image_id")

_context: ContextVar[dict[str, str] | None] = ContextVar("sightline_log_context", default=None)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add `fields` (those not None) to every log line and new event in this block."""
    known = {name: value for name, value in fields.items() if value is not None}
    token = _context.set({**_fields(), **known})
    try:
        yield
    finally:
        _context.reset(token)


def current_request_id() -> str | None:
    return _fields().get("request_id")


def _fields() -> dict[str, str]:
    return _context.get() or {}


class JsonLines(logging.Formatter):
    """One JSON object a line; a traceback is one string field, never lines of its own."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str)


class TextLines(logging.Formatter):
    """`time LEVEL logger: message [request_id=… job_id=…]`, for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        context = _fields()
        line = super().formatMessage(record)
        if not context:
            return line
        return line + " [" + " ".join(f"{key}={value}" for key, value in context.items()) + "]"


def configure(
    level: str, log_format: LogFormat, stream: TextIO | None = None, *, force: bool = False
) -> logging.Handler | None:
    """Send every logger's lines to `stream` (stderr) at `level` and above, in `log_format`;
    answers the handler installed. Like `logging.basicConfig`, it leaves alone a root logger
    that others have given handlers (a program embedding Sightline, a test's log capture)
    unless `force`; a handler it installed before is replaced."""
    root = logging.getLogger()
    if not force and any(not isinstance(other, _Handler) for other in root.handlers):
        return None
    stream = stream or sys.stderr
    json_lines = log_format == "json" or (log_format == "auto" and not stream.isatty())
    handler = _Handler(stream)
    handler.setFormatter(JsonLines() if json_lines else TextLines())
    for old in [old for old in root.handlers if isinstance(old, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` installs, told apart from others so that it replaces only its own."""
