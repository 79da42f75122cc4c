"""Image commands against a running server: `sightline upload`, `get`, `list`, `delete` and
`search`; images as table rows."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast

import click

from sightline.cli.output import Column, Format, Printer, file_size, moment, output_options
from sightline.cli.remote import (
    REFUSED,
    Unreachable,
    call,
    client_options,
    images_of,
    vectors_option,
)
from sightline.client import Client, SearchPage

F = TypeVar("F", bound=Callable[..., Any])


def top_tags(image: Mapping[str, Any], count: int = 3) -> str:
    """The names of the image's likeliest tags, or nothing while `tags` has no result."""
    result = ((image.get("features") or {}).get("tags") or {}).get("result") or {}
    return ", ".join(tag["name"] for tag in (result.get("tags") or [])[:count])


IMAGE_COLUMNS = [
    Column("ID", lambda image: image["id"], style="cyan", no_wrap=True),
    Column("File", lambda image: image.get("filename") or ""),
    Column("Status", lambda image: image["status"], no_wrap=True),
    Column("Size", lambda image: file_size(image.get("size")), "right", no_wrap=True),
    Column(
        "Dimensions",
        lambda image: f"{image['width']}×{image['height']}",
        "right",
        no_wrap=True,
        optional=True,
    ),
    Column("Tags", top_tags),
    Column("Uploaded", lambda image: moment(image.get("created_at")), no_wrap=True, optional=True),
]


def filter_options(command: F) -> F:
    """`--status`, `--type`, `--after`, `--before` and `--sha256`, given to the command as
    `filters`: the parameters of `GET /v1/images` they set."""

    @functools.wraps(command)
    def with_filters(
        *args: Any,
        status: str | None,
        content_type: str | None,
        after: datetime | None,
        before: datetime | None,
        sha256: str | None,
        **kwargs: Any,
    ) -> Any:
        filters = {
            "status": status,
            "content_type": content_type,
            "uploaded_after": _moment(after),
            "uploaded_before": _moment(before),
            "sha256": sha256,
        }
        return command(*args, filters=filters, **kwargs)

    options = [
        click.option("--status", type=click.Choice(["pending", "processing", "done", "failed"])),
        click.option("--type", "content_type", help="Only this content type, e.g. image/jpeg."),
        click.option(
            "--after",
            type=click.DateTime(),
            help="Only images uploaded after this moment (local time).",
        ),
        click.option(
            "--before", type=click.DateTime(), help="Only images uploaded before this moment."
        ),
        click.option("--sha256", help="Only images of these exact bytes (the file's SHA-256)."),
    ]
    for option in reversed(options):
        with_filters = option(with_filters)
    return cast(F, with_filters)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone().isoformat()


@click.command(
    epilog="""\b
Examples:
  sightline get img_01J… --wait          # once it is analysed, as a row
  sightline get img_01J… --json | jq .features.tags.result.tags
"""
)
@click.argument("image_id")
@click.option("--wait/--no-wait", default=False, help="Wait until the image is analysed.")
@vectors_option
@output_options
@client_options
def get(image_id: str, wait: bool, vectors: bool, output: Format, client: Client) -> None:
    """Print one image: a row of the table, or with --json the server's answer (`sightline
    show` reads it out feature by feature)."""
    fetch = client.wait if wait else client.get
    Printer(output).one(call(fetch, image_id, include_vectors=vectors), IMAGE_COLUMNS)


@click.command(
    "list",
    epilog="""\b
Examples:
  sightline list --status failed               # the newest 50 that failed
  sightline list --all --jsonl > images.jsonl  # every image, streamed
  sightline list --after 2026-12-01 --type image/png
""",
)
@filter_options
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many images, newest first.",
)
@click.option("--all", "every", is_flag=True, help="Every image (follows the pages); no --limit.")
@vectors_option
@output_options
@client_options
def list_(
    filters: dict[str, Any],
    limit: int,
    every: bool,
    vectors: bool,
    output: Format,
    client: Client,
) -> None:
    """Print the newest images, a table row each (`--jsonl`: one image a line, as they come)."""
    images = images_of(client, None if every else limit, include_vectors=vectors, **filters)
    printer = Printer(output)
    count = call(printer.rows, images, IMAGE_COLUMNS)
    if printer.for_people:
        printer.note(f"{count} images")


@click.command(epilog="Example:\n\n  sightline delete img_01J… img_01K…")
@click.argument("image_ids", nargs=-1, required=True)
@output_options
@client_options
@click.pass_context
def delete(
    ctx: click.Context, /, image_ids: tuple[str, ...], output: Format, client: Client
) -> None:
    """Delete images; each one's outcome is printed, and the exit status is 1 if any could
    not be deleted."""
    outcomes = []
    for image_id in image_ids:
        try:
            call(client.delete, image_id)
            outcomes.append({"id": image_id, "deleted": True, "error": None})
        except Unreachable:
            raise
        except click.ClickException as exc:
            outcomes.append({"id": image_id, "deleted": False, "error": exc.message})
    printer = Printer(output)
    printer.rows(
        outcomes,
        [
            Column("ID", lambda row: row["id"], style="cyan", no_wrap=True),
            Column("Outcome", lambda row: "deleted" if row["deleted"] else row["error"]),
        ],
    )
    failed = sum(not row["deleted"] for row in outcomes)
    printer.note(f"{len(outcomes) - failed} deleted, {failed} not")
    if failed:
        ctx.exit(REFUSED)


STRATEGIES = {
    "all_words": "with all the words",
    "any_words": "with any of the words",
    "semantic": "by meaning",
}


@click.command(
    epilog="""\b
Examples:
  sightline search "red car"                 # images with the words, best first
  sightline search beach --mode semantic     # by meaning
  sightline search --tag dog --label good --json
"""
)
@click.argument("query", required=False)
@click.option(
    "--mode",
    type=click.Choice(["text", "semantic"]),
    default="text",
    show_default=True,
    help="Words in the results (text) or meaning (semantic).",
)
@click.option("--tag", "tags", multiple=True, help="Only images tagged so (repeatable).")
@click.option("--label", "labels", multiple=True, help="Only images with this custom label.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@vectors_option
@output_options
@client_options
def search(
    query: str | None,
    mode: str,
    tags: tuple[str, ...],
    labels: tuple[str, ...],
    limit: int,
    vectors: bool,
    output: Format,
    client: Client,
) -> None:
    """Search images by QUERY and filters, best first: score and image a row (`--json`: the
    server's answer). How many matched and how (the words left out too) goes to stderr."""
    page = call(
        client.search,
        query,
        mode=mode,
        limit=limit,
        include_vectors=vectors,
        tag=list(tags) or None,
        label=list(labels) or None,
    )
    printer = Printer(output)
    if output is Format.JSON:
        printer.record(page, str)
    else:
        printer.rows(
            page["items"],
            [
                Column("Score", lambda item: item["score"], "right"),
                *(_of_found_image(c) for c in IMAGE_COLUMNS if c.header in FOUND_COLUMNS),
            ],
        )
    printer.note(_found(page))


FOUND_COLUMNS = {"ID", "File", "Status", "Tags"}


def _of_found_image(column: Column) -> Column:
    """An image column read from a search result's `image`."""
    return dataclasses.replace(column, cell=lambda item: column.cell(item["image"]))


def _found(page: SearchPage) -> str:
    """`12 found with all the words; left out: the`."""
    total = len(page["items"]) if page.get("total") is None else page["total"]
    how = STRATEGIES.get(page.get("strategy") or "", "")
    ignored = page.get("ignored_words") or []
    note = f"; left out: {', '.join(ignored)}" if ignored else ""
    return f"{total} found{' ' + how if how else ''}{note}"
