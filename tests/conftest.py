"""Shared fixtures: settings in a temporary folder, the wired application, a real HTTP server,
and the real servers of the scaled-out deployment (PostgreSQL, S3, Redis) for the backend
contract tests, which run every backend test on both stacks."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from catalogs import catalog_url, empty_catalog_url, migrate
from services import Stack
from sightline import Client
from sightline.app import Sightline
from sightline.models import Models
from sightline.settings import Settings, default_model_dir

# The catalog database fixtures, for every test folder.
__all__ = ["catalog_url", "empty_catalog_url"]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from SIGHTLINE_* variables: a developer's own must not leak into tests."""
    for name in list(os.environ):
        if name.startswith("SIGHTLINE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def models() -> Iterator[Models]:
    """Real models from the prepared model folder (`make test` prepares it), shared by the run."""
    hub = Models(default_model_dir(), threads=2, idle_seconds=0)
    yield hub
    hub.close()


# Quick polls, short leases and backoffs, and the model-free features: API and worker tests
# stay fast; model tests ask for their features.
TEST_SETTINGS: dict[str, object] = {
    "workers": 1,
    "poll_interval_seconds": 0.02,
    "job_lease_seconds": 5,
    "job_backoff_seconds": 0.05,
    "default_features": "metadata,color,hash,thumbnail",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", **TEST_SETTINGS)  # type: ignore[arg-type]


@pytest.fixture
def sightline(settings: Settings) -> Iterator[Sightline]:
    app = Sightline(settings)
    yield app
    app.close()


@pytest.fixture(scope="session")
def services() -> Iterator[Stack]:
    """PostgreSQL, Redis and SeaweedFS, started once for the run on the first test needing them."""
    stack = Stack().start()
    yield stack
    stack.stop()


@dataclass(frozen=True)
class Backends:
    """Where one test's catalog, blobs and queue live; None means the embedded default."""

    name: str
    catalog_url: str | None = None
    blob_url: str | None = None
    queue_url: str | None = None

    def settings(self, data_dir: Path, **overrides: object) -> Settings:
        return Settings(
            data_dir=data_dir,
            catalog_url=self.catalog_url,
            blob_url=self.blob_url,
            queue_url=self.queue_url,
            **overrides,  # type: ignore[arg-type]
        )


@pytest.fixture(params=["embedded", "scaled"])
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backends]:
    """Each backend test runs twice: on SQLite + folder + SQLite queue, and on PostgreSQL +
    S3 + Redis, each time with a fresh database, bucket and (flushed) Redis."""
    if request.param == "embedded":
        yield Backends("embedded")
        return
    stack: Stack = request.getfixturevalue("services")
    database = stack.postgres.new_database(prepare=migrate)
    stack.redis.flush()
    try:
        yield Backends(
            "scaled", database, stack.s3.blob_url(stack.s3.new_bucket()), stack.redis.url
        )
    finally:
        stack.postgres.drop_database(database)


@pytest.fixture
def stack_settings(backends: Backends, tmp_path: Path) -> Settings:
    """The `settings` fixture's test-friendly values, on either stack."""
    return backends.settings(tmp_path / "data", **TEST_SETTINGS)


@pytest.fixture
def stack_client(stack_settings: Settings) -> Iterator[Client]:
    """A live server (with in-process workers) on either stack, and a client for it."""
    app = Sightline(stack_settings)
    try:
        with serve(app) as running, Client(running.url, timeout=30) as api:
            yield api
    finally:
        app.close()


@dataclass
class RunningServer:
    url: str
    sightline: Sightline


@pytest.fixture
def server(sightline: Sightline) -> Iterator[RunningServer]:
    with serve(sightline) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[Client]:
    with Client(server.url, timeout=30) as api:
        yield api


class serve:
    """Run the API (with in-process workers) on a free loopback port in a background thread."""

    def __init__(self, sightline: Sightline, *, run_workers: bool = True, port: int = 0) -> None:
        config = uvicorn.Config(
            sightline.api(run_workers=run_workers),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
        self.sightline = sightline
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("The test server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return RunningServer(f"http://127.0.0.1:{port}", self.sightline)

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
