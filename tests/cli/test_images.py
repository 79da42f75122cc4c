"""`sightline upload | get | list | delete` against a running server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from conftest import RunningServer
from sightline.cli import main
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
    image = json.loads(runner.invoke(main, ["get", image_id, "--url", server.url]).output)
    assert image["status"] == "done" and image["metadata"] == {"a": 1}
    listed = runner.invoke(main, ["list", "--url", server.url])
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == [image["id"]]
    searched = runner.invoke(main, ["search", "the upload", "--url", server.url])
    assert searched.stdout.split("\t")[1:] == [image["id"], "upload.jpg\n"]
    assert searched.stderr == "1 found (all_words; ignored: the)\n"
    got = runner.invoke(main, ["get", image["id"], "--url", server.url])
    assert json.loads(got.output)["id"] == image["id"]
    assert runner.invoke(main, ["delete", image["id"], "--url", server.url]).exit_code == 0
    missing = runner.invoke(main, ["get", image["id"], "--url", server.url])
    assert missing.exit_code == 1
    assert "ImageNotFound" in missing.output
    unreachable = runner.invoke(main, ["list", "--url", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 1
    assert "Cannot reach the server" in unreachable.output


def test_vectors_are_printed_only_with_the_vectors_switch(server: RunningServer) -> None:
    runner = CliRunner()
    photo = Path(server.sightline.settings.data_dir).parent / "vectors.jpg"
    photo.write_bytes(solid("green"))
    upload = ["upload", str(photo), "--features", "embedding", "--wait", "--jsonl"]
    uploaded = json.loads(runner.invoke(main, [*upload, "--url", server.url]).stdout)
    lean = json.loads(
        runner.invoke(main, ["get", uploaded["image_id"], "--url", server.url]).output
    )
    assert "vector" not in lean["features"]["embedding"]["result"]
    for command in (["get", lean["id"]], ["list"]):
        printed = runner.invoke(main, [*command, "--vectors", "--url", server.url]).output
        image = json.loads(printed.splitlines()[0] if command == ["list"] else printed)
        assert len(image["features"]["embedding"]["result"]["vector"]) == 1280, command
