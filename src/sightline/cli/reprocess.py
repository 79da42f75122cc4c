"""`sightline reprocess`: analyse stored images again, with a progress bar and a summary."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import click
import httpx
from rich.progress import Progress, TaskID

from sightline.cli.batch import (
    Batch,
    Connections,
    Waiter,
    error_of,
    failed_features,
    print_rows,
    problem_text,
    streamed,
    tally,
)
from sightline.cli.output import Column, Format, Printer, output_options, plain
from sightline.cli.remote import Server, Unreachable, call, images_of, server_options
from sightline.cli.upload import concurrency_option, row_failed
from sightline.client import ApiError

UNFINISHED = frozenset({"pending", "processing"})


class Reprocessor(Batch[str]):
    """Asks for each image's analysis again on `concurrency` threads and yields a row per
    image once final (asked, or analysed with `wait`), in the order they finish."""

    thread_name = "sightline-reprocess"

    def __init__(
        self,
        connections: Connections,
        *,
        features: Sequence[str] | None,
        outdated_only: bool,
        concurrency: int,
        wait: bool,
        progress: Progress,
    ) -> None:
        super().__init__(connections, concurrency=concurrency)
        self.features = features
        self.outdated_only = outdated_only
        self.wait = wait
        self.progress = progress
        self._tasks: dict[str, TaskID] = {}

    def run(self, image_ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        self._tasks["ask"] = self.progress.add_task("Reprocessing", total=len(image_ids))
        if self.wait:
            self._tasks["wait"] = self.progress.add_task("Analysing", total=len(image_ids))
        return self._run(image_ids)

    def _one(self, image_id: str, waiter: Waiter) -> None:
        row: dict[str, Any] = {
            "image_id": image_id,
            "outcome": "failed",
            "status": None,
            "error": None,
            "failed_features": {},
        }
        try:
            if self.unreachable:
                raise httpx.ConnectError("not tried")
            image = plain(
                self.connections.client().reprocess(
                    image_id, self.features, outdated_only=self.outdated_only
                )
            )
        except (ApiError, httpx.HTTPError) as exc:
            row["error"] = error_of(exc, self.connections.server.url)
            self.unreachable = self.unreachable or isinstance(exc, httpx.TransportError)
        else:
            queued = image["status"] in UNFINISHED
            row.update(outcome="queued" if queued else "up to date", status=image["status"])
            row["failed_features"] = {} if queued else failed_features(image)
            if self.wait and queued:
                self._advance("ask", 1)
                self._await(waiter, row, 1)
                return
        self._advance("ask", 1)
        self._done(row, 1)

    def _advance(self, task: str, amount: int) -> None:
        if task in self._tasks:
            self.progress.advance(self._tasks[task], amount)


COLUMNS = [
    Column("Image", lambda row: row["image_id"]),
    Column("Outcome", lambda row: row["outcome"]),
    Column("Status", lambda row: row["status"]),
    Column("Problem", problem_text),
]


@click.command(
    epilog="""\b
Examples:
  sightline reprocess img_01H… img_01J… --features tags,read --wait
  sightline reprocess --all --outdated-only      # after upgrading models"""
)
@click.argument("image_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every image (of --status, if given).")
@click.option(
    "--status",
    type=click.Choice(["pending", "processing", "done", "failed"]),
    help="With --all: only images of this status (failed: to retry them).",
)
@click.option("--features", help="Comma-separated features; default: those each image has already.")
@click.option(
    "--outdated-only",
    is_flag=True,
    help="Only features whose analyzer changed since their result was computed.",
)
@click.option("--wait/--no-wait", default=False, help="Also wait until each image is analysed.")
@concurrency_option
@output_options
@server_options
def reprocess(
    image_ids: tuple[str, ...],
    all_: bool,
    status: str | None,
    features: str | None,
    outdated_only: bool,
    wait: bool,
    concurrency: int,
    output: Format,
    server: Server,
) -> None:
    """Analyse stored images again: IMAGE_IDS, or every image with --all. Prints a row per
    image: queued, or up to date (nothing to recompute, with --outdated-only); with --wait
    its status once analysed and the features that failed. Exit status 1 if any image could
    not be reprocessed or (with --wait) any feature failed, 3 if the server cannot be
    reached."""
    if all_ == bool(image_ids):
        raise click.UsageError("Give IMAGE_IDS or --all (not both).")
    if status and not all_:
        raise click.UsageError("--status goes with --all.")
    printer = Printer(output)
    connections = Connections(server)
    try:
        every = images_of(connections.client(), status=status, results="")
        ids = list(image_ids) or [image["id"] for image in call(list, every)]
        with printer.progress() as progress:
            reprocessor = Reprocessor(
                connections,
                features=features.split(",") if features else None,
                outdated_only=outdated_only,
                concurrency=concurrency,
                wait=wait,
                progress=progress,
            )
            rows = streamed(printer, reprocessor.run(ids), COLUMNS)
    finally:
        connections.close()
    order = {image_id: index for index, image_id in enumerate(ids)}
    print_rows(printer, rows, COLUMNS, lambda row: order[row["image_id"]])
    printer.note(tally(rows, "image") + ".")
    if reprocessor.unreachable:
        raise Unreachable("Cannot reach the server: the images not asked for are marked so.")
    if any(row_failed(row) for row in rows):
        raise SystemExit(1)
