"""The `sightline` command line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import RunningServer
from sightline import Client
from sightline.cli import main
from sightline.settings import DEFAULT_FEATURES
from support.imagegen import encode, solid


def test_help_lists_the_commands_and_env_variables() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "analyze", "upload"):
        assert command in result.output
    serve_help = CliRunner().invoke(main, ["serve", "--help"]).output
    for variable in ("SIGHTLINE_HOST", "SIGHTLINE_PORT", "SIGHTLINE_DATA_DIR"):
        assert variable in serve_help


def test_analyze_prints_every_default_feature_as_json(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(Image.new("RGB", (300, 200), "red"), "PNG"))
    result = CliRunner().invoke(main, ["analyze", str(photo)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)[str(photo)]
    assert list(report) == list(DEFAULT_FEATURES)
    assert {name: entry["status"] for name, entry in report.items()} == dict.fromkeys(
        DEFAULT_FEATURES, "done"
    )
    assert report["color"]["result"]["dominant_colors"] == ["red"]
    assert report["metadata"]["result"]["width"] == 300
    thumb = report["thumbnail"]["result"]["sizes"]["128"]
    assert (thumb["width"], thumb["height"]) == (128, 86)  # as Pillow sizes it
    assert len(thumb["sha256"]) == 64


def test_analyze_reports_bad_files_and_fails(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(solid())
    bad.write_bytes(b"not an image")
    result = CliRunner().invoke(main, ["analyze", "--features", "color", str(good), str(bad)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert set(report[str(good)]) == {"color"}
    assert report[str(bad)]["error"]["code"] == "InvalidImageFormat"


def test_analyze_rejects_unknown_features(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(solid())
    result = CliRunner().invoke(main, ["analyze", "--features", "telepathy", str(photo)])
    assert result.exit_code == 2
    assert "telepathy" in result.output


def test_client_commands_against_a_server(server: RunningServer) -> None:
    runner = CliRunner()
    photo_dir = Path(server.sightline.settings.data_dir).parent
    photo = photo_dir / "upload.jpg"
    photo.write_bytes(solid("blue"))
    uploaded = runner.invoke(
        main, ["upload", str(photo), "--wait", "--metadata", '{"a": 1}', "--url", server.url]
    )
    assert uploaded.exit_code == 0, uploaded.output
    image = json.loads(uploaded.output)
    assert image["status"] == "done" and image["metadata"] == {"a": 1}
    listed = runner.invoke(main, ["list", "--url", server.url])
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == [image["id"]]
    got = runner.invoke(main, ["get", image["id"], "--url", server.url])
    assert json.loads(got.output)["id"] == image["id"]
    assert runner.invoke(main, ["delete", image["id"], "--url", server.url]).exit_code == 0
    missing = runner.invoke(main, ["get", image["id"], "--url", server.url])
    assert missing.exit_code == 1
    assert "ImageNotFound" in missing.output
    unreachable = runner.invoke(main, ["list", "--url", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 1
    assert "Cannot reach the server" in unreachable.output


def test_serve_runs_the_pipeline_and_stops_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("sightline")), "serve", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "data")]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with Client(f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.list()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "server did not start"
                    time.sleep(0.1)
            image = client.wait(client.upload(solid("red"))["id"])
            assert image["status"] == "done"
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
        assert server.returncode in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert (tmp_path / "data" / "catalog.db").exists()
    assert (tmp_path / "data" / "blobs" / image["sha256"][:2]).is_dir()


def test_an_unknown_default_feature_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(solid())
    monkeypatch.setenv("SIGHTLINE_DEFAULT_FEATURES", "color,telepathy")
    result = CliRunner().invoke(main, ["analyze", str(photo)])
    assert result.exit_code == 2
    assert "SIGHTLINE_DEFAULT_FEATURES" in result.output and "telepathy" in result.output


def test_every_help_text_shows_real_defaults() -> None:
    def helps(group: click.Group, path: list[str]) -> Iterator[str]:
        for name, command in group.commands.items():
            yield CliRunner().invoke(main, [*path, name, "--help"]).output
            if isinstance(command, click.Group):
                yield from helps(command, [*path, name])

    outputs = list(helps(main, []))
    assert len(outputs) >= 15
    assert not [output for output in outputs if "PydanticUndefined" in output]


def test_smart_crop_ratios_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(solid("red", (320, 240)))
    monkeypatch.setenv("SIGHTLINE_SMART_CROP_RATIOS", "2:1, 1.5")
    result = CliRunner().invoke(main, ["analyze", "--features", "smart_crop", str(photo)])
    assert result.exit_code == 0, result.output
    crops = json.loads(result.output)[str(photo)]["smart_crop"]["result"]["crops"]
    assert [crop["aspect_ratio"] for crop in crops] == [2.0, 1.5]
    monkeypatch.setenv("SIGHTLINE_SMART_CROP_RATIOS", "16:0")
    refused = CliRunner().invoke(main, ["analyze", "--features", "smart_crop", str(photo)])
    assert refused.exit_code == 2
    assert "16:0" in refused.output
