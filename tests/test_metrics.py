"""Metrics: the queue gauges are read from the queue itself, so every process agrees and none
shows stale counts after the queue lost its data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.app import Sightline
from sightline.errors import BackendError
from sightline.images.service import Upload
from sightline.metrics import Metrics
from sightline.settings import Settings
from support.imagegen import solid
from support.prometheus import sample
from support.services import Stack


@pytest.fixture
def two_processes(tmp_path: Path, services: Stack) -> Iterator[tuple[Sightline, Sightline]]:
    """Two processes' parts on one catalog and one Redis queue, running no jobs."""
    services.redis.flush()
    settings = Settings(
        data_dir=tmp_path / "data",
        queue_url=f"{services.redis.url}?namespace=gauges",
        workers=0,
        default_features="color",
    )
    first, second = Sightline(settings), Sightline(settings)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def queued(app: Sightline) -> float | None:
    return sample(app.metrics.render().decode(), "sightline_queue_jobs", state="queued")


@pytest.mark.redis
def test_queue_gauges_are_the_queues_own_in_every_process_and_after_a_flush(
    two_processes: tuple[Sightline, Sightline], services: Stack
) -> None:
    first, second = two_processes
    first.service.ingest(
        [Upload(solid(colour)) for colour in ("red", "blue")], collection="default"
    )
    assert first.pool.relay.relay_all() == 2
    assert queued(first) == queued(second) == 2

    services.redis.flush()  # FLUSHALL: the queue lost every job
    assert queued(first) == queued(second) == 0

    # The catalog still knows the jobs are unfinished: a relay hands them back, and every
    # process's gauge shows them again.
    assert second.pool.relay.run_once() == 2
    assert queued(first) == queued(second) == 2


def test_a_gauge_whose_source_is_down_is_left_out_and_the_rest_is_scraped() -> None:
    metrics = Metrics()

    def unreachable() -> dict[str, int]:
        raise BackendError("The Redis queue failed: Connection refused.")

    metrics.watch("sightline_queue_jobs", "Jobs in the queue by state.", "state", unreachable)
    metrics.watch("sightline_images", "Catalogued images by status.", "status", lambda: {"done": 3})
    text = metrics.render().decode()
    assert sample(text, "sightline_queue_jobs", state="queued") is None
    assert sample(text, "sightline_images", status="done") == 3
