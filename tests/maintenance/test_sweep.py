"""Sweeping: unreferenced blobs, their rows and stale parts past the grace period go, nothing
else does; a sweep at the worst moment of an upload or an analysis loses nothing (both stacks);
processes that run workers sweep at start-up and then periodically."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from maintenance.conftest import age, analysed, wait_for
from sightline.app import Sightline
from sightline.blobs.local import LocalBlobStore
from sightline.images.service import Upload
from sightline.maintenance import Sweeper, Swept
from sightline.settings import Settings
from sightline.storage import tables as t
from support.imagegen import noise


@pytest.fixture
def stack_app(stack_settings: Settings) -> Iterator[Sightline]:
    app = Sightline(stack_settings.model_copy(update={"sweep_interval_seconds": 0}))
    yield app
    app.close()


def test_only_what_nothing_uses_past_the_grace_period_is_swept(sightline: Sightline) -> None:
    [image] = sightline.service.ingest([Upload(noise(1))], collection="default")
    referenced = age(sightline.blobs, image.image.sha256)
    orphan = age(sightline.blobs, sightline.blobs.put(b"left by a crash"))
    in_flight = sightline.blobs.put(b"written a moment ago, its image not yet committed")
    with sightline.stores.db.write() as conn:  # a row whose release a crash interrupted
        conn.execute(
            insert(t.blobs).values(sha256="ab" * 32, created_at=datetime.now(UTC) - timedelta(1))
        )
    assert isinstance(sightline.blobs, LocalBlobStore)
    parts = sightline.blobs.root / "tmp"
    (parts / "stale.part").write_bytes(b"half")
    (parts / "fresh.part").write_bytes(b"half")
    old = time.time() - 7200
    os.utime(parts / "stale.part", (old, old))
    sweeper = Sweeper(sightline.stores.images, sightline.blobs, grace_seconds=600)
    assert sweeper.sweep() == Swept(blobs=1, rows=1, parts=1)
    assert not sightline.blobs.exists(orphan)
    assert sightline.blobs.exists(referenced) and sightline.blobs.exists(in_flight)
    assert (parts / "fresh.part").exists()
    assert not sweeper.sweep()  # nothing more: sweeping is idempotent


def test_a_sweep_between_writing_an_upload_and_committing_it_loses_nothing(
    stack_app: Sightline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst moment: the bytes are stored, the image not yet committed, and a sweep that
    counts nothing as too young runs. The commit writes the bytes back under the row lock."""
    sweeper = Sweeper(stack_app.stores.images, stack_app.blobs, grace_seconds=0)
    sweeps: list[Swept] = []
    add_images = stack_app.stores.images.add_images

    def add_after_a_sweep(*args: Any, **kwargs: Any) -> Any:
        sweeps.append(sweeper.sweep())
        return add_images(*args, **kwargs)

    monkeypatch.setattr(stack_app.stores.images, "add_images", add_after_a_sweep)
    [ingested] = stack_app.service.ingest([Upload(noise(2))], collection="default")
    assert sweeps[0].blobs == 1  # the sweep did delete the bytes just written
    with stack_app.blobs.open(ingested.image.sha256) as blob:
        assert blob.read() == noise(2)
    assert not sweeper.sweep()


def test_a_sweep_between_storing_a_thumbnail_and_committing_it_loses_nothing(
    stack_app: Sightline, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture = noise(3, size=(600, 400))  # large enough for three distinct thumbnail sizes
    [ingested] = stack_app.service.ingest(
        [Upload(picture)], features=["thumbnail"], collection="default"
    )
    sweeper = Sweeper(stack_app.stores.images, stack_app.blobs, grace_seconds=0)
    sweeps: list[Swept] = []
    finish_features = stack_app.stores.images.finish_features

    def finish_after_a_sweep(*args: Any, **kwargs: Any) -> Any:
        sweeps.append(sweeper.sweep())
        return finish_features(*args, **kwargs)

    monkeypatch.setattr(stack_app.stores.images, "finish_features", finish_after_a_sweep)
    stack_app.pool.start()
    wait_for(analysed(stack_app, [ingested.image.id]))
    assert sweeps[0].blobs == 3  # the three sizes, stored but not yet referenced
    thumbnail = stack_app.service.thumbnail_blob(ingested.image.id, 128, collection=None)
    assert stack_app.blobs.size(thumbnail) > 0
    assert not sweeper.sweep()


def test_processes_running_workers_sweep_at_start_up_and_then_periodically(
    settings: Settings,
) -> None:
    app = Sightline(
        settings.model_copy(update={"sweep_interval_seconds": 0.2, "sweep_grace_seconds": 600})
    )
    try:
        before = age(app.blobs, app.blobs.put(b"left before the start"))
        app.start_workers()
        wait_for(lambda: not app.blobs.exists(before))
        later = age(app.blobs, app.blobs.put(b"left while running"))
        fresh = app.blobs.put(b"just written")
        wait_for(lambda: not app.blobs.exists(later))
        assert app.blobs.exists(fresh)
    finally:
        app.close()
