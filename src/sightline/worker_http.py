"""The HTTP port of a `sightline worker` process: `/healthz`, `/readyz` and `/metrics`.

The standard library's threading HTTP server in a daemon thread: three small read-only answers
need no framework, no event loop beside the worker threads, and none of the signal handling a
uvicorn server installs (the worker command handles SIGTERM itself). The answers have the
API's shapes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sightline.errors import ConfigurationError
from sightline.health import Component, readiness
from sightline.metrics import Metrics

log = logging.getLogger(__name__)

# A connection that sends nothing for this long is closed: a stuck client holds no thread.
IDLE_SECONDS = 10.0
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ProbeServer:
    """Binds at once (a taken port fails the command before any work starts); `start` serves
    in a background thread, `stop` closes the port."""

    def __init__(
        self, host: str, port: int, metrics: Metrics, components: Sequence[Component]
    ) -> None:
        self.metrics = metrics
        self.components = list(components)
        try:
            self._server = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as exc:
            raise ConfigurationError(
                f"The worker cannot listen on {host}:{port} (SIGHTLINE_WORKER_HTTP_HOST, "
                f"SIGHTLINE_WORKER_HTTP_PORT): {exc.strerror or exc}"
            ) from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sightline-worker-http", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body for a GET of `path`."""
        if path == "/healthz":
            return _json(HTTPStatus.OK, {"status": "ok"})
        if path == "/readyz":
            found = readiness(self.components)
            status = HTTPStatus.OK if found.ready else HTTPStatus.SERVICE_UNAVAILABLE
            return _json(status, found.as_dict())
        if path == "/metrics":
            return HTTPStatus.OK, METRICS_TYPE, self.metrics.render()
        return _json(
            HTTPStatus.NOT_FOUND,
            {"error": {"code": "NotFound", "message": "Try /healthz, /readyz or /metrics."}},
        )


def _json(status: HTTPStatus, body: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()


def _handler(server: ProbeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = IDLE_SECONDS
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:  # some load balancers' health checks
            self._answer(with_body=False)

        def _answer(self, *, with_body: bool) -> None:
            status, content_type, body = server.answer(self.path.split("?", 1)[0])
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Probes come every few seconds: not worth a line each, unless asked for.
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
