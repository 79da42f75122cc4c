"""`sightline upload | get | list | delete` against a running server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from conftest import RunningServer
from sightline.cli import main
from sightline.client import Client
from support.imagegen import solid


def test_client_commands_against_a_server(server: RunningServer) -> None:
    runner = CliRunner()
    photo_dir = Path(server.sightline.settings.data_dir).parent
    photo = photo_dir / "upload.jpg"
    photo.write_bytes(solid("blue"))
    uploaded = runner.invoke(
        main,
        ["upload", str(photo), "--wait", "--metadata", '{"a": 1}', "--jsonl", "--url", server.url],
    )
    assert uploaded.exit_code == 0, uploaded.output
    image_id = json.loads(uploaded.stdout)["image_id"]
    image = json.loads(runner.invoke(main, ["get", image_id, "--json", "--url", server.url]).stdout)
    assert image["status"] == "done" and image["metadata"] == {"a": 1}
    listed = runner.invoke(main, ["list", "--jsonl", "--url", server.url])
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [image["id"]]
    searched = runner.invoke(main, ["search", "the upload", "--url", server.url])
    header, row = searched.stdout.splitlines()
    assert header.split("\t") == ["Score", "ID", "File", "Status", "Tags"]
    assert row.split("\t")[1:4] == [image["id"], "upload.jpg", "done"]
    assert searched.stderr == "1 found with all the words; left out: the\n"
    as_json = runner.invoke(main, ["search", "the upload", "--json", "--url", server.url])
    page = json.loads(as_json.stdout)  # the server's answer, whole
    assert page["strategy"] == "all_words" and page["items"][0]["image"]["id"] == image["id"]
    as_lines = runner.invoke(main, ["search", "upload", "--jsonl", "--url", server.url])
    assert [json.loads(line)["image"]["id"] for line in as_lines.stdout.splitlines()] == [
        image["id"]
    ]
    got = runner.invoke(main, ["get", image["id"], "--json", "--url", server.url])
    assert json.loads(got.stdout)["id"] == image["id"]
    assert runner.invoke(main, ["delete", image["id"], "--url", server.url]).exit_code == 0
    missing = runner.invoke(main, ["get", image["id"], "--url", server.url])
    assert missing.exit_code == 1
    assert "ImageNotFound" in missing.stderr


def test_vectors_are_printed_only_with_the_vectors_switch(server: RunningServer) -> None:
    runner = CliRunner()
    photo = Path(server.sightline.settings.data_dir).parent / "vectors.jpg"
    photo.write_bytes(solid("green"))
    upload = ["upload", str(photo), "--features", "embedding", "--wait", "--jsonl"]
    uploaded = json.loads(runner.invoke(main, [*upload, "--url", server.url]).stdout)
    lean = json.loads(
        runner.invoke(main, ["get", uploaded["image_id"], "--json", "--url", server.url]).stdout
    )
    assert "vector" not in lean["features"]["embedding"]["result"]
    for command in (["get", lean["id"], "--json"], ["list", "--jsonl"]):
        printed = runner.invoke(main, [*command, "--vectors", "--url", server.url]).stdout
        image = json.loads(printed.splitlines()[0] if command[0] == "list" else printed)
        assert len(image["features"]["embedding"]["result"]["vector"]) == 1280, command


def uploaded(server: RunningServer, count: int) -> list[str]:
    """`count` images of different colours, analysed; their ids, newest first."""
    with Client(server.url) as client:
        ids = [
            client.upload(solid((index * 40 % 256, 90, 200)), filename=f"p{index}.png")["id"]
            for index in range(count)
        ]
        for image_id in ids:
            client.wait(image_id)
    return ids[::-1]


def test_list_prints_a_table_row_per_image_and_follows_the_pages_with_all(
    server: RunningServer,
) -> None:
    ids = uploaded(server, 3)
    runner = CliRunner()
    table = runner.invoke(main, ["list", "--limit", "2", "--url", server.url])
    assert table.exit_code == 0, table.output
    header, *rows = table.stdout.splitlines()
    assert header.split("\t") == [
        "ID", "File", "Status", "Size", "Dimensions", "Tags", "Uploaded"
    ]  # fmt: skip
    assert [row.split("\t")[0] for row in rows] == ids[:2]
    assert rows[0].split("\t")[1:3] == ["p2.png", "done"]
    assert rows[0].split("\t")[3].endswith(" B") and rows[0].split("\t")[4] == "64×48"
    assert "2 images" in table.stderr
    every = runner.invoke(main, ["list", "--all", "--json", "--url", server.url])
    assert [image["id"] for image in json.loads(every.stdout)] == ids
    filtered = runner.invoke(
        main, ["list", "--all", "--jsonl", "--status", "failed", "--url", server.url]
    )
    assert filtered.exit_code == 0 and filtered.stdout == ""
    later = runner.invoke(main, ["list", "--after", "2999-01-01", "--jsonl", "--url", server.url])
    assert later.exit_code == 0 and later.stdout == ""


def test_exit_statuses_say_refused_usage_and_unreachable(server: RunningServer) -> None:
    runner = CliRunner()
    [image_id] = uploaded(server, 1)
    deleted = runner.invoke(main, ["delete", image_id, "img_missing", "--url", server.url])
    assert deleted.exit_code == 1  # one of the batch failed, after the summary
    outcomes = dict(line.split("\t") for line in deleted.stdout.splitlines()[1:])
    assert outcomes[image_id] == "deleted"
    assert outcomes["img_missing"].startswith("ImageNotFound")
    assert "1 deleted, 1 not" in deleted.stderr
    assert runner.invoke(main, ["list", "--status", "nope", "--url", server.url]).exit_code == 2
    unreachable = runner.invoke(main, ["list", "--url", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 3
    assert unreachable.stderr.startswith("Error: Cannot reach the server at http://127.0.0.1:9/")
    assert "Errno" not in unreachable.stderr


def test_the_collection_comes_from_the_option_or_the_environment(server: RunningServer) -> None:
    with Client(server.url, collection="shop") as client:
        image_id = client.upload(solid("red"))["id"]
    runner = CliRunner()
    default = runner.invoke(
        main, ["list", "--jsonl", "--collection", "default", "--url", server.url]
    )
    assert default.exit_code == 0 and default.stdout == ""
    shop = runner.invoke(
        main, ["list", "--jsonl"], env={"SIGHTLINE_URL": server.url, "SIGHTLINE_COLLECTION": "shop"}
    )
    assert json.loads(shop.stdout)["id"] == image_id
    flagged = runner.invoke(
        main, ["get", image_id, "--collection", "shop", "--json", "--url", server.url]
    )
    assert json.loads(flagged.stdout)["collection"] == "shop"
    wrong = runner.invoke(main, ["list", "--collection", "Not Valid", "--url", server.url])
    assert wrong.exit_code == 2
