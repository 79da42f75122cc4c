"""`sightline watch DIR`: upload the images that appear in a folder, each once, once written.

A file is taken when it has stopped changing: its last change at least `--settle` seconds ago,
or its size and modification time the same over two looks that far apart (a file renamed
into place is complete at once; one still being copied keeps changing). What was sent is kept
in a state file (path, size, modification time, content hash, image id, per server), so a
restart sends nothing twice; a file whose content changed is sent again. The server is asked
for each file's content hash before sending too, so a lost state file costs requests, not
duplicates. Polling (every `--interval` seconds) works on every file system, network shares
included.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from sightline.cli.batch import Connections, print_rows, problem_text, streamed
from sightline.cli.files import folder_images, read_error, sha256_of
from sightline.cli.output import Format, Printer, output_options
from sightline.cli.remote import Server, server_options
from sightline.cli.upload import (
    OUTCOME_WORDS,
    Uploader,
    concurrency_option,
    features_option,
    finish,
    metadata_option,
    result_columns,
)

STATE_NAME = ".sightline-watch.json"
# Outcomes that settle a file until its content changes; a `failed` one is tried again.
SETTLED = frozenset({"uploaded", "duplicate", "stored", "rejected"})


@dataclass(frozen=True)
class Seen:
    """What a look found of a file: enough to tell whether it changed."""

    size: int
    mtime_ns: int


class WatchState:
    """The files sent from a folder, per server and collection: `{url (and " collection
    NAME" with --collection): {relative path: {size, mtime_ns, sha256, image_id, outcome}}}`
    in a JSON file, replaced whole (never half-written)."""

    def __init__(self, path: Path, server: Server) -> None:
        self.path = path
        where = server.url + (f" collection {server.collection}" if server.collection else "")
        self._all: dict[str, dict[str, dict[str, Any]]] = {}
        if path.exists():
            try:
                self._all = json.loads(path.read_text())
            except ValueError as exc:
                raise click.ClickException(
                    f"The watch state file {path} is damaged ({exc}); move it away to start "
                    "over (files already stored are still skipped by their content)."
                ) from exc
        self.files = self._all.setdefault(where, {})

    def entry(self, key: str) -> dict[str, Any] | None:
        return self.files.get(key)

    def record(self, key: str, seen: Seen, sha256: str | None, row: dict[str, Any]) -> None:
        self.files[key] = {
            "size": seen.size,
            "mtime_ns": seen.mtime_ns,
            "sha256": sha256,
            "image_id": row["image_id"],
            "outcome": row["outcome"],
        }

    def save(self) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(self._all, indent=1, sort_keys=True))
        os.replace(partial, self.path)


class Watcher:
    """One look at a time: which files are new or changed and done being written."""

    def __init__(self, folder: Path, state: WatchState, settle: float) -> None:
        self.folder = folder
        self.state = state
        self.settle = settle
        self._sightings: dict[str, tuple[Seen, float]] = {}
        self.unsettled: list[Path] = []  # seen changing at the last look

    def look(self) -> list[Path]:
        """The files to send now: new or changed since sent, and no longer changing."""
        ready: list[Path] = []
        self.unsettled = []
        now = time.time()
        present = set()
        for path in folder_images(self.folder):
            key = self.key(path)
            present.add(key)
            try:
                stat = path.stat()
            except FileNotFoundError:  # gone between listing and looking
                continue
            seen = Seen(stat.st_size, stat.st_mtime_ns)
            entry = self.state.entry(key)
            if entry is not None and (entry["size"], entry["mtime_ns"]) == (
                seen.size,
                seen.mtime_ns,
            ):
                continue
            before = self._sightings.get(key)
            first_seen = before[1] if before is not None and before[0] == seen else now
            self._sightings[key] = (seen, first_seen)
            if now - stat.st_mtime >= self.settle or now - first_seen >= self.settle:
                if not self._same_content(path, key, seen, entry):
                    ready.append(path)
            else:
                self.unsettled.append(path)
        for key in set(self._sightings) - present:
            del self._sightings[key]
        return ready

    def key(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()

    def seen(self, path: Path) -> Seen | None:
        sighting = self._sightings.get(self.key(path))
        return sighting[0] if sighting is not None else None

    def _same_content(self, path: Path, key: str, seen: Seen, entry: dict[str, Any] | None) -> bool:
        """A file touched but not changed (same hash as sent): remembered, not sent again."""
        if entry is None or entry.get("sha256") is None:
            return False
        try:
            same: bool = sha256_of(path.read_bytes()) == entry["sha256"]
        except OSError:
            return False
        if same:
            self.state.record(key, seen, entry["sha256"], entry)
        return same


def watch_rows(
    watcher: Watcher, uploader: Uploader, printer: Printer, *, once: bool, interval: float
) -> Iterator[dict[str, Any]]:
    """The rows of the files sent, look after look, until the last look (`once`) or Ctrl-C."""
    rounds = 0
    try:
        while True:
            ready = watcher.look()
            if ready:
                yield from send(watcher, uploader, printer, ready)
            watcher.state.save()
            rounds += 1
            if once and (not watcher.unsettled or rounds > 1):
                if watcher.unsettled:
                    printer.note(
                        f"{len(watcher.unsettled)} file(s) still being written were left for "
                        "the next run."
                    )
                return
            time.sleep(watcher.settle if once else interval)
    except KeyboardInterrupt:
        watcher.state.save()
        printer.note("Stopped.")


def send(
    watcher: Watcher, uploader: Uploader, printer: Printer, files: Sequence[Path]
) -> Iterator[dict[str, Any]]:
    for row in uploader.run(files):
        path = Path(row["path"])
        seen = watcher.seen(path)
        if row["outcome"] in SETTLED and seen is not None:
            watcher.state.record(watcher.key(path), seen, row["sha256"], row)
        if printer.for_people:
            problem = problem_text(row)
            printer.note(
                f"{OUTCOME_WORDS[row['outcome']]}: {row['path']}"
                + (f" ({row['image_id']})" if row["image_id"] else "")
                + (f": {problem}" if problem else "")
            )
        yield row
    watcher.state.save()


@click.command(
    epilog="""\b
Examples:
  sightline watch ~/Pictures/inbox
  sightline watch shots/ --once --jsonl      # what is there now, then exit"""
)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Send what is there now, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between looks.",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds a file must stay unchanged before it is sent.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where to remember what was sent. Default: FOLDER/{STATE_NAME}.",
)
@features_option
@click.option("--metadata", help="Client metadata as a JSON object, given to every file.")
@click.option("--wait/--no-wait", default=False, help="Also wait until each image is analysed.")
@concurrency_option
@output_options
@server_options
def watch(
    folder: Path,
    once: bool,
    interval: float,
    settle: float,
    state_file: Path | None,
    features: str | None,
    metadata: str | None,
    wait: bool,
    concurrency: int,
    output: Format,
    server: Server,
) -> None:
    """Upload the images that appear in FOLDER (and its sub-folders), each once and only
    once fully written, until Ctrl-C (or, with --once, what is there now). A restart sends
    nothing twice (see --state); a file whose content changes is sent again. Rows as
    `sightline upload` prints them: a table when it stops, or one JSON line per file as it
    goes with --jsonl. Exit status 1 if any file was rejected or failed, 3 if the server
    cannot be reached."""
    printer = Printer(output)
    try:
        state = WatchState(state_file or folder / STATE_NAME, server)
    except OSError as exc:
        raise click.ClickException(read_error(exc)) from exc
    watcher = Watcher(folder, state, settle)
    connections = Connections(server)
    uploader = Uploader(
        connections,
        features=features.split(",") if features else None,
        metadata=metadata_option(metadata),
        concurrency=concurrency,
        wait=wait,
    )
    if printer.for_people and not once:
        printer.note(f"Watching {folder} (Ctrl-C to stop).")
    columns = result_columns(waited=wait)
    try:
        found = watch_rows(watcher, uploader, printer, once=once, interval=interval)
        rows = streamed(printer, found, columns)
    finally:
        connections.close()
    print_rows(printer, rows, columns)
    finish(printer, rows, uploader.unreachable)
