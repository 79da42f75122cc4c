"""`sightline upload PATH…`: files, folders and globs sent concurrently, content already stored
skipped, one bad file never stopping the rest, and a table of what became of each file."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import httpx
from rich.progress import Progress, TaskID

from sightline.cli.batch import (
    FINISHED,
    Batch,
    Connections,
    Waiter,
    error_of,
    failed_features,
    print_rows,
    problem_text,
    stored_image,
    streamed,
    tally,
)
from sightline.cli.files import image_files, read_error, sha256_of
from sightline.cli.output import Column, Format, Printer, output_options, plain
from sightline.cli.remote import Server, Unreachable, server_options
from sightline.client import ApiError

# What became of a file; `stored`: these bytes were on the server already, nothing was sent.
OUTCOME_WORDS = {
    "uploaded": "uploaded",
    "duplicate": "duplicate",
    "stored": "already stored",
    "rejected": "rejected",
    "failed": "failed",
}
SENT = frozenset({"uploaded", "duplicate", "stored"})


def row_failed(row: Mapping[str, Any]) -> bool:
    """Whether a file's row counts against the exit status."""
    return bool(row["error"] or row["failed_features"] or row.get("status") == "failed")


class Uploader(Batch[tuple[Path, int]]):
    """Uploads files on `concurrency` threads, yields a row per file once it is final (uploaded,
    or analysed with `wait`), in the order they finish. Before sending a file it asks whether
    its bytes are stored already (`GET /v1/images?sha256=`) unless `force`."""

    thread_name = "sightline-upload"

    def __init__(
        self,
        connections: Connections,
        *,
        features: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
        concurrency: int = 4,
        force: bool = False,
        wait: bool = False,
        wait_timeout: float = 600.0,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(connections, concurrency=concurrency, wait_timeout=wait_timeout)
        self.features = features
        self.metadata = metadata
        self.force = force
        self.wait = wait
        self.progress = progress
        self._counts: Counter[str] = Counter()
        self._counting = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._total = 0

    def run(self, files: Sequence[Path]) -> Iterator[dict[str, Any]]:
        self._total = len(files)
        sizes = [_size(path) for path in files]
        if self.progress is not None:
            self._tasks["upload"] = self.progress.add_task(
                "Uploading", total=sum(sizes), files=f"0/{len(files)} files"
            )
            if self.wait:
                self._tasks["wait"] = self.progress.add_task(
                    "Analysing", total=sum(sizes), files=f"0/{len(files)} files"
                )
        return self._run(list(zip(files, sizes, strict=True)))

    def _one(self, item: tuple[Path, int], waiter: Waiter) -> None:
        path, size = item
        row: dict[str, Any] = {
            "path": str(path),
            "outcome": "failed",
            "image_id": None,
            "sha256": None,
            "status": None,
            "error": None,
            "failed_features": {},
        }
        created_at: str | None = None
        try:
            data = path.read_bytes()
        except OSError as exc:
            row["error"] = {"code": "Unreadable", "message": read_error(exc)}
        else:
            row["sha256"] = sha256_of(data)
            created_at = self._upload(row, data, path.name)
        self._advance("upload", size)
        if self.wait and row["image_id"] and row["status"] not in FINISHED:
            self._await(waiter, row, size, created_at)
        else:
            self._done(row, size)

    def _upload(self, row: dict[str, Any], data: bytes, name: str) -> str | None:
        """Fills `row` in; returns the image's `created_at` (to narrow the waiter's looks)."""
        if self.unreachable:
            row["error"] = {
                "code": "Unreachable",
                "message": f"Not sent: cannot reach the server at {self.connections.server.url}.",
            }
            return None
        client = self.connections.client()
        try:
            if not self.force:
                stored = stored_image(client, row["sha256"])
                if stored is not None:
                    row.update(outcome="stored", image_id=stored["id"], status=stored["status"])
                    row["failed_features"] = failed_features(stored)
                    # Already analysed: nothing to wait for, its statuses are known.
                    return None if stored["status"] in FINISHED else ""
            image = plain(
                client.upload(data, features=self.features, metadata=self.metadata, filename=name)
            )
        except (ApiError, httpx.HTTPError) as exc:
            row["error"] = error_of(exc, self.connections.server.url)
            if isinstance(exc, httpx.TransportError):
                self.unreachable = True
            row["outcome"] = (
                "rejected" if isinstance(exc, ApiError) and exc.status < 500 else "failed"
            )
            return None
        row.update(
            outcome="duplicate" if image.get("duplicate") else "uploaded",
            image_id=image["id"],
            status=image["status"],
        )
        return str(image["created_at"])

    def _advance(self, task: str, amount: int) -> None:
        with self._counting:  # called from the upload threads and the waiter's
            self._counts[task] += 1
            files = f"{self._counts[task]}/{self._total} files"
        if task in self._tasks and self.progress is not None:
            self.progress.update(self._tasks[task], advance=amount, files=files)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


RESULT_COLUMNS = [
    Column("File", lambda row: row["path"]),
    Column("Outcome", lambda row: OUTCOME_WORDS[row["outcome"]]),
    Column("Image", lambda row: row["image_id"]),
]
STATUS_COLUMN = Column("Status", lambda row: row["status"])
PROBLEM_COLUMN = Column("Problem", problem_text)


def result_columns(*, waited: bool) -> list[Column]:
    return [*RESULT_COLUMNS, *([STATUS_COLUMN] if waited else []), PROBLEM_COLUMN]


def summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """`20 files: 17 uploaded, 1 duplicate, 1 already stored, 1 rejected; 2 with failed
    features`: counts only, the rows say which."""
    text = tally(rows, "file", OUTCOME_WORDS)
    with_failures = sum(1 for row in rows if row["failed_features"])
    if with_failures:
        text += f"; {with_failures} with failed features"
    timed_out = sum(1 for row in rows if (row["error"] or {}).get("code") == "TimedOut")
    if timed_out:
        text += f"; {timed_out} not analysed in time"
    return text + "."


def finish(printer: Printer, rows: Sequence[Mapping[str, Any]], unreachable: bool) -> None:
    """The summary line, and the exit status: 3 if the server went away, 1 if any file was
    refused or failed."""
    printer.note(summary(rows))
    if unreachable:
        raise Unreachable("Cannot reach the server: the files not sent are marked so.")
    if any(row_failed(row) for row in rows):
        raise SystemExit(1)


def metadata_option(value: str | None) -> dict[str, Any] | None:
    try:
        meta = json.loads(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--metadata") from exc
    if meta is not None and not isinstance(meta, dict):
        raise click.BadParameter("give a JSON object ({...}).", param_hint="--metadata")
    return meta


concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    envvar="SIGHTLINE_CLIENT_CONCURRENCY",
    help="Files sent at once [env: SIGHTLINE_CLIENT_CONCURRENCY].",
)
features_option = click.option(
    "--features", help="Comma-separated features; default: the server's set."
)


@click.command(
    epilog="""\b
Examples:
  sightline upload photo.jpg
  sightline upload shots/ --wait
  sightline upload 'shots/**/*.png' --concurrency 8 --jsonl > results.jsonl"""
)
@click.argument("paths", nargs=-1, required=True)
@features_option
@click.option("--metadata", help="Client metadata as a JSON object, given to every file.")
@click.option(
    "--wait/--no-wait",
    default=False,
    help="Also wait until each image is analysed (while the others upload) and report "
    "failed features.",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds to wait for each image's analysis.",
)
@click.option("--force", is_flag=True, help="Send files even when their content is stored already.")
@concurrency_option
@output_options
@server_options
def upload(
    paths: tuple[str, ...],
    features: str | None,
    metadata: str | None,
    wait: bool,
    wait_timeout: float,
    force: bool,
    concurrency: int,
    output: Format,
    server: Server,
) -> None:
    """Upload files, folders (searched recursively for images) and glob patterns (quoted:
    `'shots/**/*.png'`) to a running server, several at once, and print a table of what
    became of each file: uploaded, duplicate (same bytes uploaded again, with --force),
    already stored (skipped: content on the server already; --force sends it anyway),
    rejected (with the server's reason) or failed. A bad file never stops the others. With
    --json/--jsonl, one object per file: path, outcome, image_id, sha256, status, error,
    failed_features.

    Exit status 1 if any file was rejected or failed (or, with --wait, any feature failed),
    3 if the server cannot be reached."""
    files = image_files(paths)
    printer = Printer(output)
    if not files:
        printer.note(
            "No image files there (from folders, only names ending .jpg, .png … are taken)."
        )
        return
    columns = result_columns(waited=wait)
    connections = Connections(server)
    try:
        with printer.progress(bytes_=True) as progress:
            uploader = Uploader(
                connections,
                features=features.split(",") if features else None,
                metadata=metadata_option(metadata),
                concurrency=concurrency,
                force=force,
                wait=wait,
                wait_timeout=wait_timeout,
                progress=progress,
            )
            rows = streamed(printer, uploader.run(files), columns)
    finally:
        connections.close()
    order = {str(path): index for index, path in enumerate(files)}  # as given
    print_rows(printer, rows, columns, lambda row: order[row["path"]])
    finish(printer, rows, uploader.unreachable)
