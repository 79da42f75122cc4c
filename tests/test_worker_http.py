"""A worker's HTTP port: `/healthz`, `/readyz` (it can take jobs) and `/metrics` (its jobs)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sightline.app import Sightline
from sightline.errors import ConfigurationError
from sightline.images.service import Upload
from sightline.metrics import Metrics
from sightline.settings import Settings
from sightline.storage.records import ImageStatus
from sightline.worker_http import ProbeServer
from support.imagegen import solid
from support.prometheus import sample
from support.services import Stack

MODEL_FREE = "metadata,color,hash,thumbnail"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[0].decode()
        try:
            httpx.get(f"{url}/healthz")
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the worker's port did not open"
            time.sleep(0.1)


def test_the_worker_command_serves_health_readiness_and_its_job_metrics(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api = Sightline(Settings(data_dir=data_dir, workers=0, default_features=MODEL_FREE))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("sightline")), "worker"]
    command += ["--data-dir", str(data_dir), "--concurrency", "1", "--http-port", str(port)]
    environment = {**os.environ, "SIGHTLINE_POLL_INTERVAL_SECONDS": "0.05"}
    worker = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until_up(url, worker)
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200, ready.text  # ready to take jobs while models warm up
        deadline = time.monotonic() + 60
        while ready.json()["checks"]["models"] != "ok":
            assert "warming up" in ready.json()["reasons"]["models"], ready.text
            assert time.monotonic() < deadline, "the models did not warm up"
            time.sleep(0.1)
            ready = httpx.get(f"{url}/readyz")
        assert ready.json() == {
            "status": "ready",
            "checks": {"catalog": "ok", "queue": "ok", "blobs": "ok", "models": "ok"},
            "reasons": {},
        }

        [ingested] = api.service.ingest([Upload(solid("green"))], collection="default")
        deadline = time.monotonic() + 30
        while api.service.get(ingested.image.id, collection=None).status is not ImageStatus.DONE:
            assert time.monotonic() < deadline, "the job was not done"
            time.sleep(0.05)
        answer = httpx.get(f"{url}/metrics")
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = answer.text
        assert sample(text, "sightline_jobs_total", kind="analyze", outcome="done") == 1
        assert sample(text, "sightline_job_duration_seconds_count", kind="analyze") == 1
        assert sample(text, "sightline_feature_duration_seconds_count", feature="color") == 1
        assert sample(text, "sightline_queue_jobs", state="done") == 1
        assert sample(text, "sightline_component_up", component="queue") == 1
        assert httpx.get(f"{url}/v1/images").status_code == 404
        assert httpx.head(f"{url}/readyz").status_code == 200

        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0, output.decode()
        assert f"Worker probes and metrics on {url}" in output.decode()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
        api.close()


def test_a_taken_port_is_refused_with_the_settings_to_change() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match="SIGHTLINE_WORKER_HTTP_PORT"):
            ProbeServer("127.0.0.1", port, Metrics(), [])


@pytest.fixture
def redis_worker(tmp_path: Path, stoppable_redis: Stack) -> Iterator[Sightline]:
    """A worker process's parts on the session's Redis, running no jobs."""
    settings = Settings(
        data_dir=tmp_path / "data",
        queue_url=f"{stoppable_redis.redis.url}?namespace=probes",
        workers=0,
        default_features=MODEL_FREE,
    )
    app = Sightline(settings)
    yield app
    app.close()


def test_a_worker_without_its_queue_is_not_ready_and_says_why(
    redis_worker: Sightline, stoppable_redis: Stack
) -> None:
    probes = redis_worker.probe_server("127.0.0.1", 0)
    try:
        assert httpx.get(f"{probes.url}/readyz").status_code == 200
        stoppable_redis.redis.kill()
        ready = httpx.get(f"{probes.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert ready.json()["checks"]["queue"] == "down"
        assert "Redis" in ready.json()["reasons"]["queue"]
        # The other figures are still scraped; the queue's own are left out while it is down.
        text = httpx.get(f"{probes.url}/metrics", timeout=30).text
        assert sample(text, "sightline_component_up", component="queue") == 0
        assert sample(text, "sightline_component_up", component="catalog") == 1
        assert sample(text, "sightline_queue_jobs", state="queued") is None

        stoppable_redis.redis.start()
        assert httpx.get(f"{probes.url}/readyz", timeout=30).status_code == 200
    finally:
        probes.stop()
