"""What a client may hold of the HTTP server's connections, enforced where they are accepted.

The ASGI application only sees requests whose head has arrived, so three abuses never reach it: a
client opening hundreds of connections, one sending a request head a byte at a time (or nothing
at all) to keep a connection open, and one sending an endless head. Uvicorn's own keep-alive
timeout only starts after a first response, and its httptools protocol bounds no head's size.
`guarded_protocol` adds the three bounds to uvicorn's httptools protocol (a C parser: about a
millisecond less CPU per request than h11's, measured on `GET /v1/images/{id}`):

- at most `per_client` open connections from one address; more are answered 429
  `TooManyConnections` and closed. The proxies in SIGHTLINE_FORWARDED_ALLOW_IPS are not counted:
  every client behind them shares their address, and the proxy bounds its own clients.
- a request head must be complete within `head_seconds` of the connection opening or of the
  previous response; otherwise the connection is closed. (Slow bodies are the API's
  `BodyReadTimeout`.)
- a request head larger than `MAX_HEAD_BYTES` is answered 400 and the connection closed, as h11
  (uvicorn's other parser) does past its 16 KiB: the parser would keep it all in memory.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sightline.errors import TooManyConnections
from sightline.settings import Settings

# Browsers send a few KiB at most; h11 refuses heads over 16 KiB, many proxies over 8-64 KiB.
MAX_HEAD_BYTES = 64 * 1024


class ConnectionCount:
    """Open connections per client address, shared by every connection of one server."""

    def __init__(self, per_client: int, exempt: frozenset[str]) -> None:
        self.per_client = per_client
        self.exempt = exempt
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def admit(self, address: str) -> bool:
        if not self.per_client or address in self.exempt:
            return True
        with self._lock:
            if self._open[address] >= self.per_client:
                return False
            self._open[address] += 1
            return True

    def release(self, address: str) -> None:
        if not self.per_client or address in self.exempt:
            return
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]


def refusal(per_client: int) -> bytes:
    error = TooManyConnections(
        f"At most {per_client} connections from one address at once; close some and retry."
    )
    body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
    head = (
        f"HTTP/1.1 {error.status_code} Too Many Requests\r\ncontent-type: application/json\r\n"
        f"retry-after: 1\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def guarded_protocol(per_client: int, head_seconds: float, exempt: frozenset[str]) -> type:
    """Uvicorn's httptools protocol with the three bounds; one class per server, sharing one
    count."""
    count = ConnectionCount(per_client, exempt)

    class GuardedProtocol(HttpToolsProtocol):
        admitted_address: str | None = None
        head_deadline: asyncio.TimerHandle | None = None
        in_head = False  # a request's head has begun and is not complete
        head_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if not count.admit(address):
                transport.write(refusal(per_client))
                transport.close()
                return
            self.admitted_address = address
            self.await_head()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self.in_head:
                return
            # Still in a head after the whole chunk: all of it was head (but for the end of a
            # pipelined request before it, in the chunk where the head began).
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self.in_head = False
                self.send_400_response("Request head too large.")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.in_head = True
            self.head_bytes = 0

        def on_headers_complete(self) -> None:
            self.in_head = False
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self.await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            if self.head_deadline is not None:
                self.head_deadline.cancel()
            if self.admitted_address is not None:
                count.release(self.admitted_address)
                self.admitted_address = None
            super().connection_lost(exc)

        def await_head(self) -> None:
            if self.head_deadline is not None:
                self.head_deadline.cancel()
            self.head_deadline = self.loop.call_later(head_seconds, self.close_if_no_head)

        def close_if_no_head(self) -> None:
            # No request is being answered or queued: the next head has not (fully) arrived.
            idle = (self.cycle is None or self.cycle.response_complete) and not self.pipeline
            if idle and not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol


def server_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn options every Sightline server runs with (`sightline serve`, the tests)."""
    proxies = settings.forwarded_allow_ip_list()
    return {
        "http": guarded_protocol(
            settings.max_connections_per_client,
            settings.header_timeout_seconds,
            frozenset(address for address in proxies if address != "*"),
        ),
        # The client address and scheme come from X-Forwarded-* only from these proxies.
        "proxy_headers": True,
        "forwarded_allow_ips": proxies,
    }
