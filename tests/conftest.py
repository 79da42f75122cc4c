"""Shared fixtures: settings in a temporary folder, the wired application, a real HTTP server,
and the real servers of the scaled-out deployment (PostgreSQL, S3, Redis) for the backend
contract tests, which run every backend test on both stacks; and the markers that tell which
tests need those servers or a browser (`make test-fast` leaves them out)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import hypothesis
import pytest
import uvicorn

from sightline import Client
from sightline.app import Sightline
from sightline.connections import server_options
from sightline.models import Models
from sightline.settings import Settings, default_model_dir
from support.answers import RecordAnswers, undocumented
from support.catalogs import catalog, catalog_url, empty_catalog_url, migrate
from support.services import Service, Stack
from support.slow import SLOW_TESTS

# The catalog database fixtures, for every test folder.
__all__ = ["catalog", "catalog_url", "empty_catalog_url"]

# -- markers -------------------------------------------------------------------------------------
# Server and browser markers are read from what each test asks for, so that a new test needs no
# decorator to be left out of `make test-fast`; `slow` comes from the measured list in
# tests/support/slow.py. A test that starts a server without its marker fails (see
# `servers_started_only_if_marked`): a new fixture that reaches a server belongs in a table here.

SERVER_MARKERS = frozenset({"postgres", "redis", "s3"})

# Fixtures that reach one kind of server (or the browser) wherever they are in a test's fixture
# closure, the fixtures it asks for and theirs.
FIXTURE_MARKERS: dict[str, frozenset[str]] = {
    "redis_backend": frozenset({"redis"}),  # tests/queue/conftest.py
    "stoppable_redis": frozenset({"redis"}),  # below
    "s3_bucket": frozenset({"s3"}),  # tests/blobs/conftest.py
    "s3_blob_url": frozenset({"s3"}),  # tests/blobs/conftest.py
    "seaweed": frozenset({"s3"}),  # tests/api/test_uploads.py: a SeaweedFS of its own
    "inbox": frozenset({"s3"}),  # tests/api/test_hostile_files.py: the session's SeaweedFS
    "browser": frozenset({"browser"}),  # tests/web/conftest.py: Chromium
}

# Parametrised fixtures that ask for the `services` stack (request.getfixturevalue) for some of
# their parameters only: that never shows in the fixture closure, only in the test's parameters.
PARAM_MARKERS: dict[tuple[str, str], frozenset[str]] = {
    ("backends", "scaled"): SERVER_MARKERS,  # below
    ("catalog_url", "postgresql"): frozenset({"postgres"}),  # tests/support/catalogs.py
    ("empty_catalog_url", "postgresql"): frozenset({"postgres"}),
    ("sql_catalog", "postgresql"): frozenset({"postgres"}),  # tests/search/test_vectors.py
    ("sql_catalog", "pgvector"): frozenset({"postgres"}),
    ("queue_backend", "redis"): frozenset({"redis"}),  # tests/queue/conftest.py
    ("blob_url", "s3"): frozenset({"s3"}),  # tests/blobs/conftest.py
}


def needed_markers(item: pytest.Item) -> set[str]:
    """The postgres, redis, s3 and browser markers that `item` needs, from its fixtures and
    parameters. A test that asks for the whole `services` stack, with nothing above or an
    explicit marker saying which of its servers it uses, gets all three: the stack starts them
    all."""
    fixtures = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    params: dict[str, object] = callspec.params if callspec is not None else {}
    needed: set[str] = set()
    for name in fixtures:
        needed |= FIXTURE_MARKERS.get(name, frozenset())
    for name, value in params.items():
        if isinstance(value, str):
            needed |= PARAM_MARKERS.get((name, value), frozenset())
    explicit = {mark.name for mark in item.iter_markers()}
    if "services" in fixtures and not (needed | explicit) & SERVER_MARKERS:
        needed |= SERVER_MARKERS
    return needed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        present = {mark.name for mark in item.iter_markers()}
        needed = needed_markers(item)
        # A listed test, all variants of a parametrised one, or a listed module's every test.
        test = item.nodeid.split("[", 1)[0]
        if test in SLOW_TESTS or test.split("::", 1)[0] in SLOW_TESTS:
            needed.add("slow")
        for name in sorted(needed - present):
            item.add_marker(name)


def servers_started_only_if_marked(item: pytest.Item) -> Generator[None, None, None]:
    """Fails a test phase that spawned a server when the test has no server marker: `make
    test-fast` would start that server (and a missing table entry above shows up here)."""
    before = Service.spawned
    yield
    marked = any(item.get_closest_marker(name) for name in SERVER_MARKERS)
    if Service.spawned > before and not marked:
        pytest.fail(
            f"{item.nodeid} started a server but has none of the markers "
            f"{sorted(SERVER_MARKERS)}: add its fixture or parameter to tests/conftest.py's "
            "tables, or mark it",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    yield from servers_started_only_if_marked(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield from servers_started_only_if_marked(item)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from SIGHTLINE_* variables: a developer's own must not leak into tests."""
    for name in list(os.environ):
        if name.startswith("SIGHTLINE_"):
            monkeypatch.delenv(name)
    # Each test's app, and each server a test starts, would otherwise load every default
    # feature's models (about 13 s of CPU, 900 MB) whether it analyses with them or not.
    monkeypatch.setenv("SIGHTLINE_WARM_MODELS", "false")


@pytest.fixture(scope="session")
def models() -> Iterator[Models]:
    """Real models from the prepared model folder (`make test` prepares it), shared by the run."""
    hub = Models(default_model_dir(), threads=2, idle_seconds=0)
    yield hub
    hub.close()


# Property tests (hypothesis) may take their time on a busy 2-core machine: no deadline.
hypothesis.settings.register_profile("sightline", deadline=None)
hypothesis.settings.load_profile("sightline")

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


@pytest.fixture
def stoppable_redis(services: Stack) -> Iterator[Stack]:
    """The session's stack with its Redis flushed, for a test that stops Redis
    (`services.redis.kill()`): started again, empty, after the test."""
    services.redis.flush()
    try:
        yield services
    finally:
        if services.redis.process is None:
            services.redis.start()


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


@contextmanager
def serving(settings: Settings, *, run_workers: bool = True) -> Iterator[RunningServer]:
    """A server on an app of its own, made from `settings` and closed with it."""
    app = Sightline(settings)
    try:
        with serve(app, run_workers=run_workers) as running:
            yield running
    finally:
        app.close()


class serve:
    """Run the API (with in-process workers) on a free loopback port in a background thread.
    `app` is the application it serves, e.g. for `dependency_overrides` before it starts.
    Every answer it gives must be one the OpenAPI document foresees (support/answers.py): the
    server's exit fails the test otherwise."""

    # Made once, it is slow: the same for every server but for whether /metrics needs a key.
    documents: ClassVar[dict[bool, dict[str, Any]]] = {}

    def __init__(self, sightline: Sightline, *, run_workers: bool = True, port: int = 0) -> None:
        self.app = sightline.api(run_workers=run_workers)
        self.recorder = RecordAnswers(self.app)
        config = uvicorn.Config(
            self.recorder,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            **server_options(sightline.settings),
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

    def __exit__(self, failure: type[BaseException] | None, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        if failure is None and self.recorder.answers:
            shape = self.sightline.settings.metrics_require_key
            if shape not in serve.documents:
                serve.documents[shape] = self.app.openapi()
            problems = undocumented(self.recorder.answers, serve.documents[shape])
            assert not problems, "Answers the OpenAPI document does not foresee:\n" + "\n".join(
                problems
            )
