"""`sightline serve` as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from sightline import Client, stores
from sightline.app import Sightline
from sightline.cli import main
from sightline.errors import CatalogSchemaBehind
from sightline.settings import Settings
from sightline.storage.database import Database
from sightline.storage.migrate import schema_state
from support.imagegen import solid


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


def test_serve_believes_forwarding_headers_only_from_the_listed_proxies(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("sightline")), "serve", "--no-workers"]
    command += ["--port", str(port), "--data-dir", str(tmp_path / "data")]
    # The test connects from loopback, which uvicorn alone would trust.
    environment = {
        **os.environ,
        "SIGHTLINE_API_KEYS": "serve-key",
        "SIGHTLINE_FORWARDED_ALLOW_IPS": "10.9.9.9",
    }
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        signed_in = httpx.post(
            url + "/ui/session",
            json={"api_key": "serve-key"},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert signed_in.status_code == 200
        assert "Secure" not in signed_in.headers["set-cookie"]
    finally:
        server.terminate()
        server.communicate(timeout=30)


def _catalog_at(url: str, revision: str) -> None:
    db = Database(url)
    try:
        stores.migrate(db, revision=revision)
    finally:
        db.dispose()


def _revision(url: str) -> str | None:
    db = Database(url)
    try:
        return schema_state(db).current
    finally:
        db.dispose()


def test_commands_refuse_an_older_catalog_until_migrate_upgrades_it(
    empty_catalog_url: str, tmp_path: Path
) -> None:
    _catalog_at(empty_catalog_url, "0009")
    options = ["--catalog-url", empty_catalog_url, "--data-dir", str(tmp_path / "data")]

    refused = CliRunner().invoke(main, ["queue", "dead", *options])
    assert refused.exit_code == 1
    assert "CatalogSchemaBehind" in refused.output and "revision 0009" in refused.output
    assert "Run `sightline migrate`" in refused.output
    assert "Running upgrade" not in refused.output
    assert _revision(empty_catalog_url) == "0009"

    migrated = CliRunner().invoke(main, ["migrate", *options])
    assert migrated.exit_code == 0, migrated.output
    now = _revision(empty_catalog_url)
    assert migrated.stdout == f"Catalog schema upgraded from 0009 to {now}.\n"
    assert CliRunner().invoke(main, ["queue", "dead", *options]).exit_code == 0
    again = CliRunner().invoke(main, ["migrate", *options])
    assert again.stdout == f"Catalog schema is up to date ({now}).\n"


def test_the_service_upgrades_an_embedded_catalog_and_never_a_shared_one_by_itself(
    empty_catalog_url: str, tmp_path: Path
) -> None:
    _catalog_at(empty_catalog_url, "0009")
    settings = Settings(data_dir=tmp_path / "data", catalog_url=empty_catalog_url, workers=0)
    if empty_catalog_url.startswith("sqlite"):
        Sightline(settings).close()
        assert _revision(empty_catalog_url) != "0009"
        return
    with pytest.raises(CatalogSchemaBehind):
        Sightline(settings)
    assert _revision(empty_catalog_url) == "0009"
    # What `serve --migrate` does; SIGHTLINE_AUTO_MIGRATE=always does it for every start.
    Sightline(settings.model_copy(update={"auto_migrate": "always"})).close()
    assert _revision(empty_catalog_url) != "0009"


def test_nothing_but_migrate_changes_the_schema_when_auto_migrate_is_never(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=0, auto_migrate="never")
    with pytest.raises(CatalogSchemaBehind, match="none \\(empty\\)"):
        Sightline(settings)
    environment = {"SIGHTLINE_AUTO_MIGRATE": "never"}
    options = ["--data-dir", str(tmp_path / "data")]
    assert CliRunner().invoke(main, ["migrate", *options], env=environment).exit_code == 0
    Sightline(settings).close()


def test_only_migrate_prints_the_migration_steps_as_json_lines_off_a_terminal(
    tmp_path: Path,
) -> None:
    script = str(Path(sys.executable).with_name("sightline"))

    def run(*arguments: str, data: Path) -> subprocess.CompletedProcess[str]:
        command = [script, *arguments, "--data-dir", str(data)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)

    created = run("queue", "dead", data=tmp_path / "first")  # an empty catalog is created
    assert "upgrade" not in created.stderr

    migrated = run("migrate", data=tmp_path / "second")
    head = _revision(f"sqlite:///{tmp_path / 'second' / 'catalog.db'}")
    assert migrated.stdout == f"Catalog schema upgraded from empty to {head}.\n"
    lines = [json.loads(line) for line in migrated.stderr.splitlines()]
    steps = [line["message"] for line in lines if line["logger"].startswith("alembic")]
    assert steps[-1].startswith("Running upgrade ") and f" -> {head}, " in steps[-1]
