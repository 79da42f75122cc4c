"""Shared fixtures: settings in a temporary folder, the wired application, a real HTTP server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from sightline import Client
from sightline.app import Sightline
from sightline.models import Models
from sightline.settings import Settings, default_model_dir


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


@pytest.fixture
def settings(tmp_path: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",  # type: ignore[operator]
        workers=1,
        poll_interval_seconds=0.02,
        job_lease_seconds=5,
        job_backoff_seconds=0.05,
        # The model-free features: API and worker tests stay fast; model tests ask for theirs.
        default_features="metadata,color,hash,thumbnail",
    )


@pytest.fixture
def sightline(settings: Settings) -> Iterator[Sightline]:
    app = Sightline(settings)
    yield app
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

    def __init__(self, sightline: Sightline, *, run_workers: bool = True) -> None:
        config = uvicorn.Config(
            sightline.api(run_workers=run_workers),
            host="127.0.0.1",
            port=0,
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
