"""`sightline export`: rows per image, tag, line of text or face, as CSV, JSON Lines and
Parquet, streamed page by page."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from PIL import Image
from skimage import data as samples

from conftest import RunningServer
from sightline.cli import main
from sightline.cli.export import ParquetWriter, choose_fields, export_rows
from sightline.client import Client
from support.documents import memo
from support.imagegen import encode, solid


def export(server: RunningServer, *args: str | Path) -> Result:
    result = CliRunner().invoke(main, ["export", *map(str, args), "--url", server.url])
    assert result.exit_code == 0, result.output
    return result


def upload(server: RunningServer, picture: bytes, name: str, features: list[str]) -> str:
    with Client(server.url) as client:
        image_id: str = client.upload(picture, filename=name, features=features)["id"]
        client.wait(image_id, timeout=120)
    return image_id


def test_a_row_per_image_as_csv_json_lines_and_parquet(
    server: RunningServer, tmp_path: Path
) -> None:
    features = ["color", "tags"]
    ids = [upload(server, solid(colour), f"{colour}.jpg", features) for colour in ("red", "blue")]

    printed = export(server, "--features", "color,tags")
    rows = list(csv.DictReader(io.StringIO(printed.stdout)))
    assert [row["id"] for row in rows] == ids[::-1]  # newest first
    blue = rows[0]
    assert blue["filename"] == "blue.jpg" and blue["status"] == "done"
    assert blue["width"] == "64" and blue["height"] == "48"
    assert blue["dominant_colors"].startswith("blue") and blue["black_and_white"] == "False"
    assert "blue" in blue["tags"].split("; ") and float(blue["top_tag_confidence"]) > 0
    assert "2 images exported" in printed.stderr

    export(server, "-o", tmp_path / "images.jsonl", "--fields", "id,filename,dominant_colors")
    lines = (tmp_path / "images.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": ids[1], "filename": "blue.jpg", "dominant_colors": rows[0]["dominant_colors"]},
        {"id": ids[0], "filename": "red.jpg", "dominant_colors": rows[1]["dominant_colors"]},
    ]

    export(server, "-o", tmp_path / "images.parquet", "--features", "color,tags")
    table = pq.read_table(tmp_path / "images.parquet")
    assert table.column("id").to_pylist() == ids[::-1]
    assert table.column("size").type == "int64" and table.column("black_and_white").type == "bool"
    assert table.column("top_tag").to_pylist() == [row["top_tag"] for row in rows]


def test_a_row_per_tag_per_line_of_text_and_per_face(server: RunningServer, tmp_path: Path) -> None:
    page = memo()
    text_id = upload(server, encode(page.image, "PNG"), "memo.png", ["read"])
    face_id = upload(
        server, encode(Image.fromarray(samples.astronaut())), "face.jpg", ["faces", "tags"]
    )

    lines = list(csv.DictReader(io.StringIO(export(server, "--rows", "lines").stdout)))
    assert {row["id"] for row in lines} == {text_id}
    assert [row["line"] for row in lines] == [str(n) for n in range(1, len(lines) + 1)]
    assert lines[0]["text"] == page.lines[0] and float(lines[0]["confidence"]) > 0.8
    assert int(lines[0]["w"]) > 0 and set(lines[0]) >= {"x", "y", "w", "h", "filename"}

    faces = list(csv.DictReader(io.StringIO(export(server, "--rows", "faces").stdout)))
    assert [(row["id"], row["face"]) for row in faces] == [(face_id, "1")]
    assert 150 < int(faces[0]["x"]) < 250 and float(faces[0]["confidence"]) > 0.5

    export(server, "--rows", "tags", "-o", tmp_path / "tags.csv")
    with (tmp_path / "tags.csv").open(newline="") as file:
        tags = list(csv.DictReader(file))
    assert {row["id"] for row in tags} == {face_id}
    assert "person" in {row["tag"] for row in tags}
    assert all(row["filename"] == "face.jpg" and float(row["confidence"]) > 0 for row in tags)


class CountingTransport(httpx.HTTPTransport):
    """The real transport, counting the pages of images asked for."""

    pages = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/images":
            self.pages += 1
            assert request.url.params["results"] == "color"  # only what the fields read
        return super().handle_request(request)


def test_rows_are_made_as_the_pages_come_never_all_at_once(server: RunningServer) -> None:
    for colour in ("red", "green", "blue", "white", "black"):
        upload(server, solid(colour), f"{colour}.jpg", ["color"])
    transport = CountingTransport()
    fields = choose_fields("images", ["color"], ["id", "dominant_colors"])
    with Client(server.url, transport=transport) as client:
        rows = export_rows(client, "images", fields, {}, page_size=2)
        assert transport.pages == 0  # nothing asked before the first row is wanted
        first_page = [next(rows), next(rows)]
        assert transport.pages == 1
        next(rows)
        assert transport.pages == 2
        rest = list(rows)
    assert transport.pages == 3 and len(first_page) + 1 + len(rest) == 5


def test_parquet_is_written_a_row_group_at_a_time(tmp_path: Path) -> None:
    fields = choose_fields("images", ["quality"], ["id", "quality", "blurry"])
    writer = ParquetWriter(tmp_path / "out.parquet", fields, group_size=3)
    for number in range(7):
        writer.write({"id": f"img_{number}", "quality": number / 10, "blurry": number % 2 == 0})
        assert len(writer.group) < 3  # a full group is written out at once
    writer.close()
    written = pq.ParquetFile(tmp_path / "out.parquet")
    assert written.metadata.num_row_groups == 3
    assert written.read().column("quality").to_pylist() == [n / 10 for n in range(7)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fields", "id,nope"], "unknown nope; with these --rows and --features: id, "),
        (["--features", "embedding"], "no columns for embedding"),
        (["--format", "parquet"], "give --output FILE.parquet"),
    ],
)
def test_mistakes_are_usage_errors(server: RunningServer, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["export", *args, "--url", server.url])
    assert result.exit_code == 2
    assert message in result.stderr


def test_without_pyarrow_the_error_names_the_extra(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what an install without it imports
    result = CliRunner().invoke(
        main, ["export", "-o", str(tmp_path / "x.parquet"), "--url", server.url]
    )
    assert result.exit_code == 1
    assert "pip install 'sightline[parquet]'" in result.stderr
