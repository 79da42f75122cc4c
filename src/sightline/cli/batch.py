"""What the batch commands (upload, watch, reprocess, classifiers label and test) share: a
client per thread, work on several threads with a row per item, waiting for many images with a
few requests, and the count of outcomes that ends them."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import httpx

from sightline.cli.output import Column, Format, Printer, plain
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


def stored_image(client: Client, sha256: str) -> Mapping[str, Any] | None:
    """The newest image of these exact bytes on the server (statuses only), if any: content
    already stored is not sent again."""
    found: list[Mapping[str, Any]] = plain(client.list(sha256=sha256, limit=1, results=""))["items"]
    return found[0] if found else None


def tally(
    rows: Sequence[Mapping[str, Any]], noun: str, words: Mapping[str, str] | None = None
) -> str:
    """`20 files: 17 uploaded, 2 rejected, 1 failed`: how many rows had each outcome, in the
    order and the words of `words` if given, else alphabetically."""
    counts = Counter(row["outcome"] for row in rows)
    words = words or {outcome: outcome for outcome in sorted(counts)}
    parts = [f"{counts[outcome]} {word}" for outcome, word in words.items() if counts[outcome]]
    return f"{len(rows)} {noun}{'' if len(rows) == 1 else 's'}: {', '.join(parts) or 'none'}"


def streamed(printer: Printer, rows: Iterator[Row], columns: Sequence[Column]) -> list[Row]:
    """The rows as they finish, kept for the summary; with --jsonl also printed at once (the
    other formats wait for `print_rows`, once the progress bars are gone)."""
    kept: list[Row] = []
    if printer.output is not Format.JSONL:
        kept.extend(rows)
        return kept

    def keeping() -> Iterator[Row]:
        for row in rows:
            kept.append(row)
            yield row

    printer.rows(keeping(), columns)
    return kept


def print_rows(
    printer: Printer,
    rows: Sequence[Row],
    columns: Sequence[Column],
    order: Callable[[Row], int] | None = None,
) -> None:
    """The rows `streamed` kept (unless --jsonl printed them), in `order` if given."""
    if printer.output is not Format.JSONL:
        printer.rows(sorted(rows, key=order) if order else rows, columns)


def problem_text(row: Mapping[str, Any]) -> str:
    """The problem cell of a row: its error, or its failed features."""
    if row.get("error"):
        return str(row["error"]["message"])
    failed = row.get("failed_features") or {}
    return "; ".join(f"{name}: {message}" for name, message in failed.items())


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


Row = dict[str, Any]
Item = TypeVar("Item")


class Batch(Generic[Item]):
    """Work on items on `concurrency` threads, yielding a row per item once final (done, or
    analysed when awaited), in the order they finish. A subclass does one item in `_one`,
    ending with `_done(row, amount)` or, to wait for its analysis, `_await(...)`; `amount` is
    how far the item moves the progress bars (`_advance`)."""

    thread_name = "sightline-batch"

    def __init__(
        self, connections: Connections, *, concurrency: int, wait_timeout: float = 600.0
    ) -> None:
        self.connections = connections
        self.concurrency = concurrency
        self.wait_timeout = wait_timeout
        self.unreachable = False
        self._finished: queue.Queue[Row | BaseException] = queue.Queue()
        # Rows by the image they wait for: two files of the same bytes wait for one image.
        self._awaited: dict[str, list[tuple[Row, int]]] = {}
        self._awaited_lock = threading.Lock()

    def _run(self, items: Sequence[Item]) -> Iterator[Row]:
        waiter = Waiter(self.connections, self._analysed, timeout=self.wait_timeout)
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.thread_name)
        with waiter:
            try:
                futures = [pool.submit(self._guarded, item, waiter) for item in items]
                for _ in items:
                    row = self._finished.get()
                    if isinstance(row, BaseException):
                        raise row  # a defect in a thread, not a refusal: stop and show it
                    yield row
                for future in futures:
                    future.result()
            except BaseException:
                waiter.stop()
                raise
            finally:
                pool.shutdown(cancel_futures=True)
                waiter.close()

    def _guarded(self, item: Item, waiter: Waiter) -> None:
        """`_one`, whose unexpected exception reaches the command's thread, which is waiting
        for a row from each item: it would otherwise wait for this one for ever."""
        try:
            self._one(item, waiter)
        except BaseException as exc:
            self._finished.put(exc)

    def _one(self, item: Item, waiter: Waiter) -> None:
        raise NotImplementedError

    def _advance(self, task: str, amount: int) -> None:
        raise NotImplementedError

    def _done(self, row: Row, amount: int) -> None:
        self._advance("wait", amount)
        self._finished.put(row)

    def _await(self, waiter: Waiter, row: Row, amount: int, created_at: str | None = None) -> None:
        with self._awaited_lock:
            self._awaited.setdefault(row["image_id"], []).append((row, amount))
        waiter.add(
            row["image_id"], created_at
        )  # outside the lock: the waiter calls back under its own

    def _analysed(
        self, image_id: str, image: Mapping[str, Any] | None, error: dict[str, str] | None
    ) -> None:
        with self._awaited_lock:
            rows = self._awaited.pop(image_id, [])
        for row, amount in rows:
            if image is not None:
                row.update(status=image["status"], failed_features=failed_features(image))
            else:
                row["error"] = error
            self._done(row, amount)


def in_parallel(
    server: Server,
    printer: Printer,
    description: str,
    items: Sequence[Item],
    work: Callable[[Client, Item], Row],
    *,
    concurrency: int,
) -> list[Row]:
    """`work(client, item)` for each item on `concurrency` threads (a client each) under a
    progress bar; the rows in the order of the items."""
    connections = Connections(server)
    try:
        with printer.progress() as progress:
            task = progress.add_task(description, total=len(items))

            def one(item: Item) -> Row:
                row = work(connections.client(), item)
                progress.advance(task)
                return row

            with ThreadPoolExecutor(concurrency) as pool:
                return list(pool.map(one, items))
    finally:
        connections.close()
