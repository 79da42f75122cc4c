"""A soak: a live `sightline serve` and a few clients doing, for a while, what users do (upload,
read, list, search, fetch thumbnails and originals, delete) and what they should not (hostile
files, unknown ids, bad parameters, wrong content types).

Every answer is checked as it comes: each action knows which statuses it may get (a read may
find its image deleted by another client meanwhile), and anything else, a 5xx above all, is
kept as a `Surprise`. Each upload that was accepted and not deleted must end analysed.

Shared by tests/api/test_soak.py (one minute) and bench/soak.py (ten, with figures).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support.hostile import (
    ACCEPTED,
    HOSTILE_METADATA,
    HostileFile,
    Refused,
    corpus,
    png_chunk,
    with_png_chunk,
)
from support.imagegen import noise

# A low pixel limit: the corpus's near-bombs sit just under it, so each costs a few MB to
# analyse, and the memory figures follow the service, not the size of one picture.
MAX_PIXELS = 4_000_000
FEATURES = "metadata,color,hash,thumbnail"
WORDS = ("harbour", "meadow", "lantern", "granite", "orchard", "glacier")
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


# -- the server --------------------------------------------------------------------------------


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(
    data_dir: Path, *, workers: int = 2, features: str = FEATURES
) -> Iterator[LiveServer]:
    """`sightline serve` (embedded stores, in-process workers) on a free loopback port, ready;
    stopped with SIGTERM (killed if it will not stop) however the block ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = data_dir / "server.log"
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("SIGHTLINE_")},
        "SIGHTLINE_DEFAULT_FEATURES": features,
        "SIGHTLINE_MAX_PIXELS": str(MAX_PIXELS),
    }
    command = [str(Path(sys.executable).with_name("sightline")), "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir / "data"), "--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = LiveServer(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"sightline serve exited:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sightline serve not ready:\n{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- the clients -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    route: str
    status: int
    seconds: float


@dataclass(frozen=True)
class Surprise:
    """An answer the action did not allow: a 5xx, or a status outside its documented ones."""

    route: str
    status: int
    body: str


@dataclass
class Traffic:
    """The clients' shared state: what they stored and deleted, and every answer."""

    url: str
    clients: int = 4
    think_seconds: float = 0.02
    seed: int = 0
    calls: list[Call] = field(default_factory=list)
    surprises: list[Surprise] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    _live: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: Iterator[int] = field(default_factory=itertools.count)

    def run(
        self, seconds: float, tick: Callable[[], None] | None = None, every: float = 1.0
    ) -> None:
        """Every client at work for `seconds`; `tick` called every `every` seconds meanwhile."""
        stop = threading.Event()
        threads = [
            threading.Thread(target=self._client, args=(index, stop), daemon=True)
            for index in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(every, left))
                if tick is not None:
                    tick()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

    def errors(self) -> list[Surprise]:
        return [surprise for surprise in self.surprises if surprise.status >= 500]

    def by_route(self) -> dict[str, list[Call]]:
        routes: dict[str, list[Call]] = defaultdict(list)
        for call in list(self.calls):
            routes[call.route].append(call)
        return dict(routes)

    def kept(self) -> set[str]:
        """Accepted uploads no client deleted: each must end analysed."""
        with self._lock:
            return self.accepted - self.deleted

    # -- one client ----------------------------------------------------------------------------

    def _client(self, index: int, stop: threading.Event) -> None:
        rng = random.Random(self.seed * 1000 + index)
        actions, weights = zip(*self._mix(), strict=True)
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not stop.is_set():
                action = rng.choices(actions, weights)[0]
                action(http, rng)
                time.sleep(rng.uniform(0, 2 * self.think_seconds))

    def _mix(self) -> list[tuple[Callable[[httpx.Client, random.Random], None], int]]:
        return [
            (self._upload, 20),
            (self._upload_batch, 4),
            (self._get, 14),
            (self._list, 8),
            (self._search, 8),
            (self._thumbnail, 10),
            (self._content, 8),
            (self._delete, 5),
            (self._analyze, 2),
            (self._hostile_file, 8),
            (self._bad_request, 8),
            (self._health, 5),
        ]

    def _call(
        self,
        http: httpx.Client,
        route: str,
        allowed: set[int],
        method: str,
        path: str,
        **options: object,
    ) -> httpx.Response:
        started = time.perf_counter()
        response = http.request(method, path, **options)  # type: ignore[arg-type]
        call = Call(route, response.status_code, time.perf_counter() - started)
        with self._lock:
            self.calls.append(call)
            if response.status_code not in allowed or response.status_code >= 500:
                self.surprises.append(Surprise(route, response.status_code, response.text[:500]))
        return response

    def _stored(self, response: httpx.Response) -> None:
        if response.status_code == 202:
            with self._lock:
                for image in response.json()["images"]:
                    self.accepted.add(image["id"])
                    self._live.append(image["id"])

    def _some_image(self, rng: random.Random) -> str | None:
        with self._lock:
            return rng.choice(self._live) if self._live else None

    def _picture(self, rng: random.Random) -> bytes:
        """A small PNG, distinct per upload (a counter in a text chunk) unless it repeats one on
        purpose: identical bytes are stored once and catalogued twice."""
        base = noise(rng.randrange(50), (rng.choice((64, 96, 160)), rng.choice((48, 64, 120))))
        if rng.random() < 0.1:
            return base
        return with_png_chunk(base, png_chunk(b"tEXt", b"n\x00%d" % next(self._serial)))

    def _upload(self, http: httpx.Client, rng: random.Random) -> None:
        name = f"{rng.choice(WORDS)}-{rng.randrange(1000)}.png"
        metadata = json.dumps({"client": "soak", "n": rng.randrange(1000)})
        response = self._call(
            http,
            "POST /v1/images",
            {202},
            "POST",
            "/v1/images",
            content=self._picture(rng),
            headers={"Content-Type": "image/png", "X-Filename": name},
            params={"metadata": metadata},
        )
        self._stored(response)

    def _upload_batch(self, http: httpx.Client, rng: random.Random) -> None:
        files = [
            ("file", (f"{rng.choice(WORDS)}.png", self._picture(rng), "image/png"))
            for _ in range(rng.randint(2, 4))
        ]
        response = self._call(
            http, "POST /v1/images multipart", {202}, "POST", "/v1/images", files=files
        )
        self._stored(response)

    def _get(self, http: httpx.Client, rng: random.Random) -> None:
        if (image_id := self._some_image(rng)) is not None:
            self._call(http, "GET /v1/images/{id}", {200, 404}, "GET", f"/v1/images/{image_id}")

    def _list(self, http: httpx.Client, rng: random.Random) -> None:
        params: dict[str, str | int] = {"limit": rng.choice((1, 20, 200))}
        if rng.random() < 0.3:
            params["status"] = rng.choice(("pending", "done", "failed"))
        page = self._call(http, "GET /v1/images", {200}, "GET", "/v1/images", params=params)
        if page.status_code == 200 and (cursor := page.json()["next_cursor"]):
            params["cursor"] = cursor
            self._call(http, "GET /v1/images", {200}, "GET", "/v1/images", params=params)

    def _search(self, http: httpx.Client, rng: random.Random) -> None:
        params: dict[str, str] = {"q": rng.choice(WORDS)}
        if rng.random() < 0.3:
            params = {"where": "metadata.width>=96"}
        self._call(http, "GET /v1/search", {200}, "GET", "/v1/search", params=params)

    def _thumbnail(self, http: httpx.Client, rng: random.Random) -> None:
        if (image_id := self._some_image(rng)) is not None:
            size = rng.choice((128, 256, 512))
            path = f"/v1/images/{image_id}/thumbnail?size={size}"
            # 409 while it is not analysed yet, 404 once deleted.
            self._call(http, "GET /v1/images/{id}/thumbnail", {200, 404, 409}, "GET", path)

    def _content(self, http: httpx.Client, rng: random.Random) -> None:
        if (image_id := self._some_image(rng)) is not None:
            headers = {"Range": "bytes=0-99"} if rng.random() < 0.3 else {}
            path = f"/v1/images/{image_id}/content"
            route = "GET /v1/images/{id}/content"
            self._call(http, route, {200, 206, 404}, "GET", path, headers=headers)

    def _delete(self, http: httpx.Client, rng: random.Random) -> None:
        with self._lock:
            image_id = self._live.pop(rng.randrange(len(self._live))) if self._live else None
            if image_id is not None:
                self.deleted.add(image_id)
        if image_id is not None:
            route = "DELETE /v1/images/{id}"
            self._call(http, route, {204, 404}, "DELETE", f"/v1/images/{image_id}")

    def _analyze(self, http: httpx.Client, rng: random.Random) -> None:
        picture = noise(rng.randrange(50), (96, 64))
        headers = {"Content-Type": "image/png"}
        self._call(
            http, "POST /v1/analyze", {200}, "POST", "/v1/analyze", content=picture, headers=headers
        )

    def _hostile_file(self, http: httpx.Client, rng: random.Random) -> None:
        file: HostileFile = rng.choice(corpus(MAX_PIXELS))
        allowed = {202} if ACCEPTED in file.expect else set()
        allowed |= {outcome.status for outcome in file.expect if isinstance(outcome, Refused)}
        response = self._call(
            http,
            "POST /v1/images hostile",
            allowed,
            "POST",
            "/v1/images",
            content=file.data,
            headers={"Content-Type": file.content_type},
        )
        self._stored(response)

    def _bad_request(self, http: httpx.Client, rng: random.Random) -> None:
        picture = noise(1, (32, 32))
        bad: list[tuple[str, int, str, str, dict[str, object]]] = [
            (
                "GET /v1/images/{id} unknown",
                404,
                "GET",
                "/v1/images/img_00000000000000000000000000",
                {},
            ),
            ("GET /v1/images bad limit", 400, "GET", "/v1/images?limit=0", {}),
            ("GET /v1/search bad where", 400, "GET", "/v1/search?where=%3E%3E", {}),
            (
                "POST /v1/images text/plain",
                415,
                "POST",
                "/v1/images",
                {"content": picture, "headers": {"Content-Type": "text/plain"}},
            ),
            (
                "POST /v1/images bad metadata",
                400,
                "POST",
                "/v1/images",
                {
                    "content": picture,
                    "headers": {"Content-Type": "image/png"},
                    "params": {"metadata": rng.choice([HOSTILE_METADATA["NaN"], "{oops"])},
                },
            ),
        ]
        route, status, method, path, options = rng.choice(bad)
        self._call(http, route, {status}, method, path, **options)

    def _health(self, http: httpx.Client, rng: random.Random) -> None:
        path = rng.choice(("/healthz", "/readyz", "/metrics"))
        self._call(http, f"GET {path}", {200}, "GET", path)


# -- after the run -----------------------------------------------------------------------------


def image_statuses(url: str) -> dict[str, str]:
    """Every stored image's status, by id, a page of 200 at a time."""
    statuses: dict[str, str] = {}
    cursor = None
    with httpx.Client(base_url=url, timeout=60) as http:
        while True:
            params: dict[str, str | int] = {"limit": 200, "results": ""}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/v1/images", params=params)
            page.raise_for_status()
            body = page.json()
            statuses.update({image["id"]: image["status"] for image in body["items"]})
            if not (cursor := body["next_cursor"]):
                return statuses


def wait_analysed(url: str, expected: set[str], timeout: float) -> dict[str, str]:
    """The statuses of `expected` once none is pending or processing (or at `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = image_statuses(url)
        mine = {image_id: statuses.get(image_id, "missing") for image_id in expected}
        unfinished = [s for s in mine.values() if s in ("pending", "processing")]
        if not unfinished or time.monotonic() > deadline:
            return mine
        time.sleep(0.5)
