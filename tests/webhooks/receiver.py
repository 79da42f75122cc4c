"""A real webhook receiver on loopback for tests: a threaded `http.server` that answers the
validation handshake and POSTs as told, and keeps every request it got."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    number: int  # of the POSTs this receiver got, from 1
    at: float  # time.time() once the body was read

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[dict[str, Any]]:
        """The CloudEvents it carried: one, or a batch."""
        payload = self.json()
        return payload if isinstance(payload, list) else [payload]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before answering
    gate: threading.Event | None = None  # answer only once set


Respond = Callable[[Received], "Reply | int"]


class Receiver:
    def __init__(
        self,
        respond: Respond | None = None,
        *,
        allow_origin: str | None = "*",
        handshake_status: int = 200,
    ) -> None:
        self.respond: Respond = respond or (lambda _request: 200)
        self.allow_origin = allow_origin
        self.handshake_status = handshake_status
        self.handshakes: list[Received] = []
        self.requests: list[Received] = []  # POSTs, answered or not, in arrival order
        self.answered: list[tuple[Received, int]] = []  # POSTs and the status they got
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.port = int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening: connections are refused from now on."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def delivered(self) -> list[dict[str, Any]]:
        """Events of the POSTs answered with a 2xx, in the order answered."""
        with self._lock:
            return [
                event
                for request, status in self.answered
                if 200 <= status < 300
                for event in request.events()
            ]

    def received(self) -> list[tuple[float, dict[str, Any]]]:
        """Every event of every POST, answered or not, with the time its body was read."""
        with self._lock:
            return [(request.at, event) for request in self.requests for event in request.events()]

    def wait(self, condition: Callable[[Receiver], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Receiver still waiting after {timeout}s: {len(self.requests)} requests"
                )
            time.sleep(0.01)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_OPTIONS(self) -> None:
                request = self._read(0)
                with receiver._lock:
                    receiver.handshakes.append(request)
                headers = {}
                if receiver.allow_origin is not None:
                    headers["WebHook-Allowed-Origin"] = receiver.allow_origin
                self._answer(Reply(receiver.handshake_status, headers))

            def do_POST(self) -> None:
                with receiver._lock:
                    number = len(receiver.requests) + 1
                    request = self._read(number)
                    receiver.requests.append(request)
                reply = receiver.respond(request)
                if isinstance(reply, int):
                    reply = Reply(reply)
                if reply.gate is not None:
                    reply.gate.wait(60)
                if reply.delay:
                    time.sleep(reply.delay)
                # Recorded before the answer leaves: the sender may act on it (and a test check
                # what arrived) before this thread runs again.
                answered = (request, reply.status)
                with receiver._lock:
                    receiver.answered.append(answered)
                if not self._answer(reply):
                    with receiver._lock:
                        receiver.answered.remove(answered)

            def _read(self, number: int) -> Received:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                return Received(
                    self.command,
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    body,
                    number,
                    time.time(),
                )

            def _answer(self, reply: Reply) -> bool:
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    self.wfile.flush()
                except OSError:
                    return False  # the sender gave up (a timeout): not answered
                return True

        return Handler
