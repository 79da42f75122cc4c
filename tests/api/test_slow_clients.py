"""A client that stops sending its body is answered 408 and cannot hold the connection; the
server keeps serving everyone else, and a long-lived event stream is not a stalled body."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import RunningServer, serve
from sightline.app import Sightline
from sightline.settings import Settings
from support.apicheck import assert_nothing_stored_and_still_serving
from support.imagegen import noise

TIMEOUT = 0.5
PNG = noise(6, size=(16, 16), fmt="PNG")


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(
        data_dir=tmp_path / "data",
        body_timeout_seconds=TIMEOUT,
        workers=1,
        poll_interval_seconds=0.02,
        default_features="metadata,color,hash,thumbnail",
    )
    app = Sightline(settings)
    with serve(app) as running:
        yield running
    app.close()


def stalled_upload(server: RunningServer, sent: bytes) -> bytes:
    """Announce a 100-KB image, send `sent` of it, then nothing: what the server answers."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/images HTTP/1.1\r\nHost: test\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 100000\r\n\r\n" + sent
        )
        started = time.monotonic()
        answer = conn.recv(65536)
        assert time.monotonic() - started < TIMEOUT + 5
        # The head and the body may come in two writes.
        head, _, body = answer.partition(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
        while length and len(body) < int(length[1]):
            received = conn.recv(65536)
            if not received:
                break
            body += received
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("sent", [b"", b"\xff\xd8\xff"])
def test_a_stalled_body_is_answered_408(impatient: RunningServer, sent: bytes) -> None:
    answer = stalled_upload(impatient, sent)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"RequestTimeout"' in answer
    assert_nothing_stored_and_still_serving(impatient)


def test_an_event_stream_outlives_the_body_timeout(impatient: RunningServer) -> None:
    with httpx.stream("GET", f"{impatient.url}/v1/events", timeout=10) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")
        time.sleep(TIMEOUT * 3)
        upload = httpx.post(f"{impatient.url}/v1/images", files={"file": ("a.png", PNG)})
        assert upload.status_code == 202
        assert any("sightline.image.created" in line for line in _take(lines, 20))


def _take(lines: Iterator[str], count: int) -> list[str]:
    taken = []
    for line in lines:
        taken.append(line)
        if "sightline.image.created" in line or len(taken) >= count:
            break
    return taken
