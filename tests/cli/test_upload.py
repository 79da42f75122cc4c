"""`sightline upload PATH…` against a running server: folders, globs, a bad file among good
ones, resuming, waiting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import RunningServer, serve
from sightline import Client
from sightline.app import Sightline
from sightline.cli import main
from sightline.cli.files import image_files
from sightline.settings import Settings
from sightline.vision import Analysis, Analyzer, Independent, Inputs, Picture, ResultModel
from sightline.vision.color import ColorAnalyzer
from support.imagegen import noise
from support.slow_worker import SlowAnalyzer


def upload(server: RunningServer, *arguments: str) -> tuple[int, list[dict[str, Any]], str]:
    """Exit status, the rows (JSON lines), the summary line."""
    result = CliRunner().invoke(main, ["upload", *arguments, "--jsonl", "--url", server.url])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, rows, result.stderr.rstrip("\n")


def shots(folder: Path) -> Path:
    (folder / "shots" / "day1").mkdir(parents=True)
    (folder / "shots" / "day1" / "a.png").write_bytes(noise(1))
    (folder / "shots" / "day1" / "notes.txt").write_text("not an image")
    (folder / "shots" / "b.png").write_bytes(noise(2))
    (folder / "shots" / ".hidden.png").write_bytes(noise(3))
    return folder / "shots"


def test_folders_are_searched_for_images_and_globs_expanded(tmp_path: Path) -> None:
    folder = shots(tmp_path)
    assert image_files([str(folder)]) == [folder / "b.png", folder / "day1" / "a.png"]
    assert image_files([f"{folder}/**/*.png"]) == [folder / "b.png", folder / "day1" / "a.png"]
    # A file named on the command line is sent whatever its name; each file once.
    notes = folder / "day1" / "notes.txt"
    assert image_files([str(notes), str(folder / "b.png"), str(folder)]) == [
        notes,
        folder / "b.png",
        folder / "day1" / "a.png",
    ]


def test_a_name_matching_nothing_is_a_usage_error(tmp_path: Path) -> None:
    for missing in (str(tmp_path / "nothing.png"), f"{tmp_path}/*.jpg"):
        result = CliRunner().invoke(main, ["upload", missing, "--url", "http://127.0.0.1:9"])
        assert result.exit_code == 2, result.output
        assert "no such file" in result.output or "matches no files" in result.output


def test_a_bad_file_among_good_ones_is_reported_and_the_others_uploaded(
    server: RunningServer, client: Client, tmp_path: Path
) -> None:
    folder = shots(tmp_path)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a picture")
    status, rows, summary = upload(server, str(bad), str(folder), "--concurrency", "2")
    assert status == 1
    by_name = {Path(row["path"]).name: row for row in rows}
    assert set(by_name) == {"broken.jpg", "a.png", "b.png"}
    assert by_name["broken.jpg"]["outcome"] == "rejected"
    assert by_name["broken.jpg"]["error"]["code"] == "InvalidImageFormat"
    assert by_name["broken.jpg"]["image_id"] is None
    for name in ("a.png", "b.png"):
        assert by_name[name]["outcome"] == "uploaded" and by_name[name]["error"] is None
    assert summary.endswith("3 files: 2 uploaded, 1 rejected.")
    stored = {image["filename"]: image["id"] for image in client.iter_images()}
    assert stored == {"a.png": by_name["a.png"]["image_id"], "b.png": by_name["b.png"]["image_id"]}


def test_content_already_stored_is_skipped_unless_forced(
    server: RunningServer, client: Client, tmp_path: Path
) -> None:
    folder = shots(tmp_path)
    first = client.upload(folder / "b.png")
    status, rows, summary = upload(server, str(folder))
    assert status == 0
    outcomes = {Path(row["path"]).name: (row["outcome"], row["image_id"]) for row in rows}
    assert outcomes["b.png"] == ("stored", first["id"])
    assert outcomes["a.png"][0] == "uploaded"
    assert summary.endswith("2 files: 1 uploaded, 1 already stored.")
    # Run again (an interrupted upload resumed): nothing is sent twice.
    status, rows, _ = upload(server, str(folder))
    assert status == 0 and {row["outcome"] for row in rows} == {"stored"}
    assert len(list(client.iter_images())) == 2
    status, rows, _ = upload(server, str(folder / "b.png"), "--force")
    assert status == 0 and rows[0]["outcome"] == "duplicate"
    assert rows[0]["image_id"] != first["id"]


def test_wait_reports_each_image_analysed_and_its_failed_features(
    server: RunningServer, tmp_path: Path
) -> None:
    folder = shots(tmp_path)
    for seed in range(4, 10):
        (folder / f"more{seed}.png").write_bytes(noise(seed))
    status, rows, summary = upload(server, str(folder), "--wait")
    assert status == 0, rows
    assert len(rows) == 8
    assert {row["status"] for row in rows} == {"done"}
    assert all(row["failed_features"] == {} for row in rows)


class ExplodingAnalyzer(Independent):
    name = "boom"
    version = "1"
    result_model = ResultModel

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        raise RuntimeError("analyzer bug")


def test_a_failed_feature_after_wait_is_reported_and_fails_the_command(
    settings: Settings, tmp_path: Path
) -> None:
    analyzers: dict[str, Analyzer] = {"color": ColorAnalyzer(), "boom": ExplodingAnalyzer()}
    app = Sightline(
        settings.model_copy(update={"default_features": "color,boom"}), analyzers=analyzers
    )
    try:
        with serve(app) as running:
            folder = shots(tmp_path)
            status, rows, summary = upload(running, str(folder), "--wait")
    finally:
        app.close()
    assert status == 1
    assert [row["failed_features"] for row in rows] == [{"boom": "RuntimeError: analyzer bug"}] * 2
    assert {row["status"] for row in rows} == {"failed"}
    assert summary.endswith("2 files: 2 uploaded; 2 with failed features.")


@pytest.mark.timeout(120)
def test_copies_of_one_file_waited_for_together_each_get_their_row(
    settings: Settings, tmp_path: Path
) -> None:
    """The copies after the first find its image still being analysed and wait for it too:
    each file's row comes once it is done (the command used to wait for ever for all but one)."""
    analyzers: dict[str, Analyzer] = {"slow": SlowAnalyzer(1.0)}
    app = Sightline(settings.model_copy(update={"default_features": "slow"}), analyzers=analyzers)
    for name in ("one.png", "two.png", "three.png"):
        (tmp_path / name).write_bytes(noise(21))
    try:
        with serve(app) as running:
            status, rows, summary = upload(running, str(tmp_path), "--wait", "--concurrency", "1")
    finally:
        app.close()
    assert status == 0, rows
    assert sorted(row["outcome"] for row in rows) == ["stored", "stored", "uploaded"]
    assert len({row["image_id"] for row in rows}) == 1
    assert {row["status"] for row in rows} == {"done"}


def test_results_print_as_a_table_or_as_json(server: RunningServer, tmp_path: Path) -> None:
    folder = shots(tmp_path)
    piped = CliRunner().invoke(main, ["upload", str(folder), "--url", server.url])
    assert piped.exit_code == 0, piped.output
    lines = piped.stdout.splitlines()
    assert lines[0] == "File\tOutcome\tImage\tProblem"
    assert [line.split("\t")[:2] for line in lines[1:]] == [
        [str(folder / "b.png"), "uploaded"],
        [str(folder / "day1" / "a.png"), "uploaded"],
    ]
    document = CliRunner().invoke(main, ["upload", str(folder), "--json", "--url", server.url])
    assert [row["outcome"] for row in json.loads(document.stdout)] == ["stored", "stored"]


def test_an_unreachable_server_exits_3_after_the_summary(tmp_path: Path) -> None:
    folder = shots(tmp_path)
    result = CliRunner().invoke(
        main, ["upload", str(folder), "--jsonl", "--url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 3
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["error"]["code"] for row in rows} == {"Unreachable"}
    assert "Cannot reach the server" in result.stderr


def test_collection_chooses_where_files_go_and_what_is_listed(
    server: RunningServer, client: Client, tmp_path: Path
) -> None:
    folder = shots(tmp_path)
    status, rows, _ = upload(server, str(folder / "b.png"), "--collection", "holiday")
    assert status == 0 and rows[0]["outcome"] == "uploaded"
    # The content check looks in the collection given: in another the same bytes are new.
    status, rows, _ = upload(server, str(folder / "b.png"), "--collection", "studio")
    assert status == 0 and rows[0]["outcome"] == "uploaded", rows
    listed = CliRunner().invoke(
        main, ["list", "--json", "--url", server.url], env={"SIGHTLINE_COLLECTION": "holiday"}
    )
    assert listed.exit_code == 0, listed.output
    assert [(image["filename"], image["collection"]) for image in json.loads(listed.stdout)] == [
        ("b.png", "holiday")
    ]
