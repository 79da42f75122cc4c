"""`sightline watch DIR`: each file sent once, only once fully written, not again after a
restart."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import RunningServer
from sightline import Client
from sightline.cli import main
from sightline.cli.remote import Server
from sightline.cli.watch import STATE_NAME, Watcher, WatchState
from support.imagegen import noise


def watch_once(server: RunningServer, folder: Path, *more: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        main,
        ["watch", str(folder), "--once", "--settle", "0.2", "--jsonl", *more, "--url", server.url],
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def aged(path: Path, seconds: float = 60) -> None:
    """As if written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_each_file_is_sent_once_and_not_again_after_a_restart(
    server: RunningServer, client: Client, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "day1").mkdir(parents=True)
    (inbox / "day1" / "a.png").write_bytes(noise(1))
    (inbox / "b.png").write_bytes(noise(2))
    (inbox / "notes.txt").write_text("not an image: left alone")
    rows = watch_once(server, inbox)
    assert sorted((row["path"], row["outcome"]) for row in rows) == [
        (str(inbox / "b.png"), "uploaded"),
        (str(inbox / "day1" / "a.png"), "uploaded"),
    ]
    state = json.loads((inbox / STATE_NAME).read_text())[server.url]
    assert set(state) == {"b.png", "day1/a.png"}
    # A restart: nothing is sent again, not even asked about; a new file is.
    (inbox / "c.png").write_bytes(noise(3))
    assert [Path(row["path"]).name for row in watch_once(server, inbox)] == ["c.png"]
    assert watch_once(server, inbox) == []
    # Touched but unchanged: not sent; changed content: sent again.
    os.utime(inbox / "b.png")
    (inbox / "c.png").write_bytes(noise(4))
    time.sleep(0.3)
    assert [Path(row["path"]).name for row in watch_once(server, inbox)] == ["c.png"]
    assert len(list(client.iter_images())) == 4
    # The state file lost: the server's content check still sends nothing twice.
    (inbox / STATE_NAME).unlink()
    assert {row["outcome"] for row in watch_once(server, inbox)} == {"stored"}
    assert len(list(client.iter_images())) == 4


def test_a_file_is_taken_only_once_it_stopped_changing(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "state.json", Server("http://server"))
    photo = tmp_path / "photo.png"
    picture = noise(5)
    photo.write_bytes(picture[: len(picture) // 2])  # being copied
    watcher = Watcher(tmp_path, state, settle=0.5)
    assert watcher.look() == [] and watcher.unsettled == [photo]
    time.sleep(0.3)
    photo.write_bytes(picture)  # more arrived: still changing
    assert watcher.look() == []
    time.sleep(0.6)  # unchanged over two looks `settle` apart: complete
    assert watcher.look() == [photo]
    # Renamed into place, written long ago: complete at once.
    done = tmp_path / "done.png"
    (tmp_path / ".done.png.partial").write_bytes(noise(6))
    assert watcher.look() == [photo]  # hidden files are never taken
    (tmp_path / ".done.png.partial").rename(done)
    aged(done)
    assert sorted(watcher.look()) == [done, photo]


def test_a_rejected_file_is_reported_once_and_the_others_sent(
    server: RunningServer, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "broken.jpg").write_bytes(b"not a picture")
    (inbox / "good.png").write_bytes(noise(7))
    result = CliRunner().invoke(
        main, ["watch", str(inbox), "--once", "--settle", "0", "--jsonl", "--url", server.url]
    )
    assert result.exit_code == 1
    outcomes = {
        Path(row["path"]).name: row["outcome"]
        for row in map(json.loads, result.stdout.splitlines())
    }
    assert outcomes == {"broken.jpg": "rejected", "good.png": "uploaded"}
    assert watch_once(server, inbox) == []  # not tried again until it changes
