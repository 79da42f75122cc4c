"""What the batch commands (upload, watch, reprocess) share: a client per thread, waiting for
many images with a few requests, the progress display, and one line of JSON per item."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from sightline.cli.output import Printer, plain
from sightline.cli.remote import Server, images_of
from sightline.client import ApiError, Client

FINISHED = frozenset({"done", "failed"})


class Connections:
    """One client per thread (each with its own connection pool), all closed together."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()

    def client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self.server.client(timeout=120)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


def error_of(exc: Exception, url: str) -> dict[str, str]:
    """An error as `{"code", "message"}` in words, for a row and its JSON."""
    if isinstance(exc, ApiError):
        return {"code": exc.code, "message": exc.message}
    if isinstance(exc, httpx.TransportError):
        return {"code": "Unreachable", "message": f"Cannot reach the server at {url}."}
    if isinstance(exc, httpx.HTTPError):
        return {"code": "HttpError", "message": f"The request failed: {exc}."}
    raise exc


def failed_features(image: Mapping[str, Any]) -> dict[str, str]:
    """The features whose analysis failed, each with its error message."""
    found = {}
    for name, state in (image.get("features") or {}).items():
        if state.get("status") == "failed":
            error = state.get("error") or {}
            found[name] = error.get("message") or "failed"
    return found


def problem_text(row: Mapping[str, Any]) -> str:
    """The problem cell of a row: its error, or its failed features."""
    if row.get("error"):
        return str(row["error"]["message"])
    failed = row.get("failed_features") or {}
    return "; ".join(f"{name}: {message}" for name, message in failed.items())


def batch_progress(printer: Printer) -> Progress:
    """Upload and analysis bars on stderr that both count bytes (the upload's sent, the
    analysis' finished) and say in their `files` field how many files: `Printer.progress`
    shows one count per bar, these need both."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=printer.err,
        disable=not printer.err.is_terminal,
    )


Finished = Callable[[str, Mapping[str, Any] | None, dict[str, str] | None], None]


class Waiter:
    """Waits for many images with a few requests. Each look lists the images still `pending`
    or `processing` (statuses only, 200 a page; for uploads only those uploaded since the
    oldest one awaited) and reads once each awaited image that left that list, instead of
    asking after every image every second. `finished(id, image, None)` is called for an image
    done or failed, `finished(id, None, error)` for one that vanished or timed out."""

    def __init__(
        self,
        connections: Connections,
        finished: Finished,
        *,
        interval: float = 0.25,
        timeout: float = 600.0,
    ) -> None:
        self.connections = connections
        self.finished = finished
        self.interval = interval
        self.timeout = timeout
        self._pending: dict[str, tuple[datetime | None, float]] = {}
        self._closed = False
        self._stopped = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="sightline-waiter", daemon=True)
        self.error: Exception | None = None

    def __enter__(self) -> Waiter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            self.stop()
        self.close()
        self._thread.join()
        if self.error is not None:
            raise self.error

    def add(self, image_id: str, created_at: str | None = None) -> None:
        """Wait for `image_id`; `created_at` (an upload's) narrows the looks to newer images."""
        since = datetime.fromisoformat(created_at) if created_at else None
        with self._changed:
            self._pending[image_id] = (since, time.monotonic())
            self._changed.notify()

    def close(self) -> None:
        """No more images will be added: the thread ends once the last one finished."""
        with self._changed:
            self._closed = True
            self._changed.notify()

    def stop(self) -> None:
        """Stop waiting at once (Ctrl-C)."""
        with self._changed:
            self._stopped = self._closed = True
            self._changed.notify()

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    while not self._pending and not self._closed:
                        self._changed.wait()
                    if self._stopped or not self._pending:
                        return
                    pending = dict(self._pending)
                self._look(pending)
                with self._changed:
                    self._changed.wait(self.interval)
        except (ApiError, httpx.HTTPError) as exc:
            # The server refused or went away: every image still awaited says so in its row.
            with self._changed:
                for image_id in list(self._pending):
                    self._finish(image_id, None, error_of(exc, self.connections.server.url))
        except Exception as exc:  # a defect: re-raised by __exit__ in the command's thread
            self.error = exc

    def _look(self, pending: dict[str, tuple[datetime | None, float]]) -> None:
        client = self.connections.client()
        times = [since for since, _ in pending.values()]
        filters: dict[str, Any] = {"results": ""}
        if all(since is not None for since in times):
            # `uploaded_after` is exclusive: a millisecond earlier includes the oldest image.
            oldest = min(since for since in times if since is not None)
            filters["uploaded_after"] = (oldest - timedelta(milliseconds=1)).isoformat()
        unfinished = {
            item["id"]
            for status in ("pending", "processing")
            for item in images_of(client, status=status, **filters)
        }
        now = time.monotonic()
        for image_id, (_since, added) in pending.items():
            if image_id in unfinished:
                if now - added > self.timeout:
                    self._finish_locked(
                        image_id,
                        None,
                        {
                            "code": "TimedOut",
                            "message": f"Still not analysed after {self.timeout:g} s.",
                        },
                    )
                continue
            try:
                image = plain(client.get(image_id))
            except ApiError as exc:
                self._finish_locked(image_id, None, error_of(exc, self.connections.server.url))
                continue
            if image["status"] in FINISHED:
                self._finish_locked(image_id, image, None)

    def _finish_locked(
        self, image_id: str, image: Mapping[str, Any] | None, error: dict[str, str] | None
    ) -> None:
        with self._changed:
            self._finish(image_id, image, error)

    def _finish(
        self, image_id: str, image: Mapping[str, Any] | None, error: dict[str, str] | None
    ) -> None:
        if self._pending.pop(image_id, None) is not None:
            self.finished(image_id, image, error)
