"""What a client may hold of the HTTP server's connections, enforced where they are accepted.

The ASGI application only sees requests whose head has arrived, so two abuses never reach it: a
client opening hundreds of connections, and one sending a request head a byte at a time (or
nothing at all) to keep a connection open. Uvicorn's own keep-alive timeout only starts after a
first response. `guarded_protocol` adds both bounds to uvicorn's h11 protocol:

- at most `per_client` open connections from one address; more are answered 429
  `TooManyConnections` and closed. The proxies in SIGHTLINE_FORWARDED_ALLOW_IPS are not counted:
  every client behind them shares their address, and the proxy bounds its own clients.
- a request head must be complete within `head_seconds` of the connection opening or of the
  previous response; otherwise the connection is closed. (Slow bodies are the API's
  `BodyReadTimeout`.)
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from sightline.errors import TooManyConnections
from sightline.settings import Settings


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
    """Uvicorn's h11 protocol with the two bounds; one class per server, sharing one count."""
    count = ConnectionCount(per_client, exempt)

    class GuardedH11Protocol(H11Protocol):
        admitted_address: str | None = None
        head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if not count.admit(address):
                transport.write(refusal(per_client))
                transport.close()
                return
            self.admitted_address = address
            self.await_head()

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
            # IDLE: the next request's head has not (fully) arrived.
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


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
