"""A client that stops sending its body is answered 408 and cannot hold the connection; one that
never finishes its request head is disconnected; one address cannot hold more than its share of
connections. The server keeps serving everyone else, and a long-lived event stream is not a
stalled body."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import RunningServer, serving
from sightline.connections import MAX_HEAD_BYTES
from sightline.settings import Settings
from support.apicheck import assert_nothing_stored_and_still_serving
from support.imagegen import noise

TIMEOUT = 0.5
CAP = 3
PNG = noise(6, size=(16, 16), fmt="PNG")


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(
        data_dir=tmp_path / "data",
        body_timeout_seconds=TIMEOUT,
        header_timeout_seconds=TIMEOUT,
        max_connections_per_client=CAP,
        # Loopback is where the tests connect from: it must not count as a trusted proxy here.
        forwarded_allow_ips="192.0.2.1",
        workers=1,
        poll_interval_seconds=0.02,
        default_features="metadata,color,hash,thumbnail",
    )
    with serving(settings) as running:
        yield running


def stalled_upload(server: RunningServer, sent: bytes) -> bytes:
    """Announce a 100-KB image, send `sent` of it, then nothing: what the server answers."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/images HTTP/1.1\r\nHost: test\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 100000\r\n\r\n" + sent
        )
        started = time.monotonic()
        # Read to the end: the head and the body may come in two writes, and the 408 closes.
        answer = read_until_closed(conn)
        assert time.monotonic() - started < TIMEOUT + 5
    return answer


def read_until_closed(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def healthz_answer(conn: socket.socket) -> int:
    """The status of the response on `conn`, read whole so the connection can carry another."""
    response = http.client.HTTPResponse(conn)
    response.begin()
    response.read()
    return response.status


def connect(server: RunningServer) -> socket.socket:
    address = urlsplit(server.url)
    return socket.create_connection((address.hostname, address.port), timeout=10)


@pytest.mark.parametrize("sent", [b"", b"\xff\xd8\xff"])
def test_a_stalled_body_is_answered_408(impatient: RunningServer, sent: bytes) -> None:
    answer = stalled_upload(impatient, sent)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"RequestTimeout"' in answer
    assert_nothing_stored_and_still_serving(impatient)


@pytest.mark.parametrize("head", [b"", b"GET /healthz HTTP/1.1\r\nHost: te"])
def test_a_connection_that_never_finishes_its_request_head_is_closed(
    impatient: RunningServer, head: bytes
) -> None:
    with connect(impatient) as conn:
        conn.sendall(head)
        started = time.monotonic()
        assert read_until_closed(conn) == b""
        assert time.monotonic() - started < TIMEOUT + 5
    assert httpx.get(f"{impatient.url}/healthz").status_code == 200


def test_a_kept_alive_connection_must_send_its_next_head_in_time(impatient: RunningServer) -> None:
    with connect(impatient) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert healthz_answer(conn) == 200
        conn.sendall(b"GET /healthz HTTP/1.1\r\n")  # and the rest never comes
        assert read_until_closed(conn) == b""


def test_an_endless_request_head_is_refused(impatient: RunningServer) -> None:
    with connect(impatient) as conn:
        # A little over the bound and no line's end: sent whole, so that the server has read
        # all of it when it answers and closes (unread bytes would turn its close into a reset).
        filler = b"a" * (MAX_HEAD_BYTES + 1024)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Filler: " + filler)
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"Request head too large" in answer
    assert httpx.get(f"{impatient.url}/healthz").status_code == 200


def test_a_large_request_head_within_the_bound_is_served(impatient: RunningServer) -> None:
    cookie = "a" * (MAX_HEAD_BYTES - 2048)
    response = httpx.get(f"{impatient.url}/healthz", headers={"Cookie": cookie})
    assert response.status_code == 200


def test_pipelined_requests_are_all_answered(impatient: RunningServer) -> None:
    with connect(impatient) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n" * 3)
        assert [healthz_answer(conn) for _ in range(3)] == [200, 200, 200]
        time.sleep(TIMEOUT * 2)  # then nothing: the connection is closed after the last answer
        assert read_until_closed(conn) == b""


def test_one_address_holds_at_most_its_share_of_connections(impatient: RunningServer) -> None:
    held = [connect(impatient) for _ in range(CAP)]
    try:
        for conn in held:  # each admitted: it is served
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert healthz_answer(conn) == 200
        with connect(impatient) as extra:
            answer = read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 429"), answer
        assert b'"TooManyConnections"' in answer
        assert b"retry-after: 1" in answer
    finally:
        held.pop().close()
    # A closed connection frees its place.
    deadline = time.monotonic() + 5
    while httpx.get(f"{impatient.url}/healthz").status_code != 200:
        assert time.monotonic() < deadline
    for conn in held:
        conn.close()


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
