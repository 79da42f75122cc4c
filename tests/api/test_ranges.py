"""Blob responses close their blob however the client leaves."""

from __future__ import annotations

import io

import anyio
import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from sightline.api.ranges import blob_response


def request(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request(
        {"type": "http", "method": "GET", "headers": raw, "asgi": {"spec_version": "2.4"}}
    )


@pytest.mark.parametrize("headers", [{}, {"range": "bytes=2-5"}])
def test_a_client_gone_before_the_body_starts_leaves_no_blob_open(headers: dict[str, str]) -> None:
    blob = io.BytesIO(b"0123456789")
    response = blob_response(
        request(headers),
        blob,
        size=10,
        etag='"e"',
        content_type="image/png",
        cache_control="no-cache",
    )

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(_message: Message) -> None:
        raise OSError("the client went away")

    async def respond() -> None:
        await response({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, send)

    with pytest.raises(ClientDisconnect):
        anyio.run(respond)
    assert blob.closed
