"""`sightline serve` as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sightline import Client
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
