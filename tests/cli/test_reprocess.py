"""`sightline reprocess` against a running server."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from conftest import RunningServer
from sightline import Client
from sightline.cli import main
from support.imagegen import noise


def reprocess(server: RunningServer, *arguments: str) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(main, ["reprocess", *arguments, "--jsonl", "--url", server.url])
    return (
        result.exit_code,
        [json.loads(line) for line in result.stdout.splitlines()],
        result.stderr.rstrip("\n"),
    )


def test_images_are_reprocessed_and_awaited(server: RunningServer, client: Client) -> None:
    ids = [client.wait(client.upload(noise(seed))["id"])["id"] for seed in range(3)]
    status, rows, summary = reprocess(server, *ids[:2], "--features", "color", "--wait")
    assert status == 0, rows
    assert sorted(row["image_id"] for row in rows) == sorted(ids[:2])
    assert {(row["outcome"], row["status"]) for row in rows} == {("queued", "done")}
    assert summary == "2 images: 2 queued."
    # Nothing changed since: nothing to recompute.
    status, rows, summary = reprocess(server, "--all", "--outdated-only")
    assert status == 0
    assert sorted(row["image_id"] for row in rows) == sorted(ids)
    assert {row["outcome"] for row in rows} == {"up to date"}


def test_an_unknown_image_is_reported_and_the_others_reprocessed(
    server: RunningServer, client: Client
) -> None:
    image = client.wait(client.upload(noise(1))["id"])
    status, rows, _ = reprocess(server, "img_missing", image["id"])
    assert status == 1
    by_id = {row["image_id"]: row for row in rows}
    assert by_id["img_missing"]["error"]["code"] == "ImageNotFound"
    assert by_id[image["id"]]["outcome"] == "queued"


def test_ids_or_all_is_a_usage_error() -> None:
    assert CliRunner().invoke(main, ["reprocess"]).exit_code == 2
    assert CliRunner().invoke(main, ["reprocess", "img_1", "--all"]).exit_code == 2
