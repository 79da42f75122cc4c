"""Blob responses close their blob however the client leaves."""

from __future__ import annotations

import io

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from sightline.api.ranges import blob_response, parse_range
from sightline.errors import RangeNotSatisfiable
from support.strategies import any_text


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


@given(any_text, st.integers(min_value=0, max_value=2**40))
def test_any_range_header_is_a_span_the_whole_file_or_refused(header: str, size: int) -> None:
    try:
        span = parse_range(header, size)
    except RangeNotSatisfiable as exc:
        assert exc.details["size"] == size
        return
    if span is not None:
        start, end = span
        assert 0 <= start <= end < size


@given(
    st.integers(min_value=1, max_value=2**40).flatmap(
        lambda size: st.tuples(st.just(size), st.integers(0, size - 1), st.integers(0, 2**41))
    )
)
def test_a_range_in_the_file_is_served_as_asked(case: tuple[int, int, int]) -> None:
    size, start, end = case
    end = max(start, end)
    assert parse_range(f"bytes={start}-{end}", size) == (start, min(end, size - 1))
    assert parse_range(f"bytes={start}-", size) == (start, size - 1)
