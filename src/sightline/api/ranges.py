"""Serving immutable blobs: ETag/If-None-Match and single byte ranges (RFC 9110 §14)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from sightline.errors import RangeNotSatisfiable

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span asked for, or None for the whole file.

    Multiple ranges and malformed headers are ignored (the whole file is a valid answer);
    a well-formed range outside the file is an error.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(f"Range {header!r} is empty.", size=size)
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(f"Range {header!r} is outside the {size}-byte file.", size=size)
    return start, end


def _chunks(blob: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with blob:
        blob.seek(start)
        while length > 0:
            chunk = blob.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


class BlobResponse(StreamingResponse):
    """Streams a blob and closes it however the response ends: a client that goes away before
    the body starts leaves the chunk generator unstarted, and its own `with` never runs."""

    def __init__(self, blob: BinaryIO, start: int, length: int, **kwargs: Any) -> None:
        super().__init__(_chunks(blob, start, length), **kwargs)
        self.blob = blob

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.blob.close()


def blob_response(
    request: Request,
    blob: BinaryIO,
    *,
    size: int,
    etag: str,
    content_type: str,
    cache_control: str,
) -> Response:
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": cache_control,
    }
    if etag in request.headers.get("if-none-match", ""):
        blob.close()
        return Response(status_code=304, headers=headers)
    try:
        span = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        blob.close()
        raise
    if span is None:
        headers["Content-Length"] = str(size)
        return BlobResponse(blob, 0, size, media_type=content_type, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return BlobResponse(
        blob,
        start,
        end - start + 1,
        status_code=206,
        media_type=content_type,
        headers=headers,
    )
