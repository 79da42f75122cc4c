"""Image commands against a running server: `sightline upload`, `get`, `list`, `delete` and
`search`."""

from __future__ import annotations

import json

import click

from sightline.cli.remote import call, key_option, url_option, vectors_option
from sightline.client import Client


@click.command()
@click.argument("image_id")
@click.option("--wait/--no-wait", default=False, help="Wait until the image is analysed.")
@vectors_option
@url_option
@key_option
def get(image_id: str, wait: bool, vectors: bool, url: str, api_key: str | None) -> None:
    """Print one image with its results."""
    with Client(url, api_key=api_key) as client:
        fetch = client.wait if wait else client.get
        click.echo(json.dumps(call(fetch, image_id, include_vectors=vectors), indent=2))


@click.command("list")
@click.option("--status", type=click.Choice(["pending", "processing", "done", "failed"]))
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@vectors_option
@url_option
@key_option
def list_(status: str | None, limit: int, vectors: bool, url: str, api_key: str | None) -> None:
    """Print the newest images as JSON lines."""
    with Client(url, api_key=api_key) as client:
        page = call(client.list, limit=limit, status=status, include_vectors=vectors)
        for image in page["items"]:
            click.echo(json.dumps(image))


@click.command()
@click.argument("image_ids", nargs=-1, required=True)
@url_option
@key_option
def delete(image_ids: tuple[str, ...], url: str, api_key: str | None) -> None:
    """Delete images."""
    with Client(url, api_key=api_key) as client:
        for image_id in image_ids:
            call(client.delete, image_id)
            click.echo(f"Deleted {image_id}.")


@click.command()
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
@url_option
@key_option
def search(
    query: str | None,
    mode: str,
    tags: tuple[str, ...],
    labels: tuple[str, ...],
    limit: int,
    url: str,
    api_key: str | None,
) -> None:
    """Search images by QUERY and filters; print `score id filename` lines, best first, and
    how many matched and how (the answer's `total`, `strategy`, `ignored_words`) on stderr."""
    with Client(url, api_key=api_key) as client:
        page = call(
            client.search,
            query,
            mode=mode,
            limit=limit,
            tag=list(tags) or None,
            label=list(labels) or None,
        )
    for item in page["items"]:
        score = "-" if item["score"] is None else f"{item['score']:.3f}"
        click.echo(f"{score}\t{item['image']['id']}\t{item['image']['filename'] or ''}")
    if page.get("strategy"):
        total = len(page["items"]) if page.get("total") is None else page["total"]
        ignored = page.get("ignored_words") or []
        note = f"; ignored: {', '.join(ignored)}" if ignored else ""
        click.echo(f"{total} found ({page['strategy']}{note})", err=True)
