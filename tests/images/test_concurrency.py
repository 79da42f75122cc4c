"""Stores under concurrent writers, on SQLite and PostgreSQL: readers that follow a seq
watermark miss nothing, racing workers lose no update, racing uploads share one blob row, and
concurrent batches do not deadlock."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import psycopg
import pytest
from sqlalchemy import func, select

from sightline.events import EventType, cloud_event
from sightline.storage import tables as t
from sightline.storage.records import BlobRef, FeatureState, FeatureStatus, ImageStatus, NewImage
from sightline.storage.statements import SEQ_LOCKS
from sightline.stores import Stores, open_stores
from support.catalogs import embedding, migrate
from support.services import Stack

WRITERS = 4


class Keeper:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ensured: list[str] = []
        self.discarded: list[str] = []

    def ensure(self, sha256: str) -> None:
        with self.lock:
            self.ensured.append(sha256)

    def discard(self, sha256: str) -> None:
        with self.lock:
            self.discarded.append(sha256)


def image(image_id: str, *features: str, blob: str | None = None) -> NewImage:
    pending = [FeatureState(name, FeatureStatus.PENDING, name, "1") for name in features]
    sha256 = blob or hashlib.sha256(image_id.encode()).hexdigest()
    return NewImage(image_id, sha256, None, "image/png", "PNG", 1, 1, 1, {}, pending)


def created(image_id: str) -> dict[str, Any]:
    return cloud_event(EventType.IMAGE_CREATED, image_id, {"id": image_id})


def done(feature: str, result: dict[str, Any]) -> FeatureState:
    return FeatureState(feature, FeatureStatus.DONE, feature, "1", result)


# Callable[..., object]: the tasks are lambdas that bind their loop variables as defaults.
def run_together(tasks: list[Callable[..., object]]) -> list[object]:
    """Run the tasks on threads released at once; re-raise the first failure."""
    start = threading.Barrier(len(tasks))

    def wait_then(task: Callable[[], object]) -> object:
        start.wait()
        return task()

    with ThreadPoolExecutor(len(tasks)) as pool:
        return [
            future.result(timeout=120)
            for future in [pool.submit(wait_then, task) for task in tasks]
        ]


def follow(read: Callable[[int], list[Any]], stop: threading.Event, seen: list[Any]) -> None:
    """Read everything after a watermark until told to stop, then once more."""
    watermark = 0
    while True:
        last_round = stop.is_set()
        rows = read(watermark)
        seen.extend(rows)
        if rows:
            watermark = rows[-1].seq
        elif last_round:
            return
        else:
            time.sleep(0.002)  # as a relay polls: a spinning reader would starve the writers


# -- watermarks ------------------------------------------------------------------------------


def test_a_reader_following_events_by_seq_misses_none(catalog: Stores) -> None:
    seen: list[Any] = []
    stop = threading.Event()
    reader = threading.Thread(
        target=follow, args=(lambda seq: catalog.events.events_after(seq, 50), stop, seen)
    )
    reader.start()

    def write(writer: int) -> None:
        for n in range(40):
            ids = [f"img_{writer}_{n}_{k}" for k in range(3)]
            catalog.images.add_images(
                [image(i, "hash") for i in ids], [created(i) for i in ids], Keeper()
            )

    try:
        run_together([lambda writer=writer: write(writer) for writer in range(WRITERS)])
    finally:
        stop.set()
        reader.join()
    seqs = [stored.seq for stored in seen]
    assert seqs == sorted(set(seqs))
    assert len(seen) == WRITERS * 40 * 3 == catalog.events.last_event_seq()


def test_a_reader_following_vectors_by_seq_misses_none(catalog: Stores) -> None:
    ids = [f"img_{writer}_{n}" for writer in range(WRITERS) for n in range(60)]
    catalog.images.add_images([image(i, "embedding") for i in ids], [], Keeper())
    seen: list[Any] = []
    stop = threading.Event()
    reader = threading.Thread(
        target=follow,
        args=(lambda seq: catalog.vectors.vectors_after("embedding", "1", seq, 50), stop, seen),
    )
    reader.start()
    rng = np.random.default_rng(0)

    def write(writer: int) -> None:
        for image_id in ids[writer::WRITERS]:
            vector = [float(value) for value in rng.standard_normal(8)]
            catalog.images.finish_features(
                image_id, [done("embedding", embedding(vector))], [], Keeper(), f"done-{image_id}"
            )

    try:
        run_together([lambda writer=writer: write(writer) for writer in range(WRITERS)])
    finally:
        stop.set()
        reader.join()
    assert sorted(stored.image_id for stored in seen) == sorted(ids)


# -- racing writers --------------------------------------------------------------------------


def test_workers_finishing_one_image_together_lose_no_update(catalog: Stores) -> None:
    features = [f"f{n}" for n in range(6)]
    catalog.images.add_images([image("img_1", *features)], [created("img_1")], Keeper())
    catalog.images.add_images([image("img_2", *features)], [created("img_2")], Keeper())
    tasks: list[Callable[..., object]] = [
        lambda image_id=image_id, feature=feature: catalog.images.finish_features(
            image_id, [done(feature, {"n": feature})], [], Keeper(), f"{image_id}:done"
        )
        for image_id in ("img_1", "img_2")
        for feature in features
    ]
    run_together(tasks)
    for image_id in ("img_1", "img_2"):
        record = catalog.images.get_image(image_id)
        assert record is not None
        assert record.status is ImageStatus.DONE
        assert {name: state.result for name, state in record.features.items()} == {
            feature: {"n": feature} for feature in features
        }
    analysed = [
        e
        for e in catalog.events.events_after(0, 100)
        if e.envelope["type"] == EventType.IMAGE_ANALYZED
    ]
    assert sorted(e.envelope["subject"] for e in analysed) == ["images/img_1", "images/img_2"]


def test_uploads_of_the_same_bytes_share_one_blob_row(catalog: Stores) -> None:
    blob = hashlib.sha256(b"the same bytes").hexdigest()
    ids = [f"img_{n}" for n in range(6)]
    run_together(
        [
            lambda image_id=image_id: catalog.images.add_images(
                [image(image_id, blob=blob)], [created(image_id)], Keeper()
            )
            for image_id in ids
        ]
    )
    with catalog.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(t.blobs)) == 1
        assert conn.scalar(select(func.count()).select_from(t.blob_refs)) == len(ids)
    records = [catalog.images.get_image(image_id) for image_id in ids]
    originals = [r for r in records if r is not None and r.duplicate_of is None]
    assert len(originals) == 1
    # Every later upload points at one earlier image, and nothing points at itself.
    assert all(r is not None and r.duplicate_of != r.id for r in records)

    keeper = Keeper()
    run_together(
        [
            lambda image_id=image_id: catalog.images.delete_image(
                image_id, cloud_event(EventType.IMAGE_DELETED, image_id, {}), keeper
            )
            for image_id in ids
        ]
    )
    # The last deletions each release the blob after committing; deleting bytes twice is fine.
    assert set(keeper.discarded) == {blob}
    with catalog.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(t.blobs)) == 0


def test_concurrent_batches_sharing_blobs_do_not_deadlock(catalog: Stores) -> None:
    """Uploads, results and deletions that share original and derived blobs, each naming them
    in its own order, all at once: every transaction completes (PostgreSQL would abort one of a
    deadlocked pair) and the blob rows end up as the references say."""
    shas = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(5)]

    def batch(writer: int) -> None:
        order = shas[writer % 5 :] + shas[: writer % 5]
        for round_ in range(4):
            ids = [f"img_{writer}_{round_}_{k}" for k in range(5)]
            images = [image(i, "thumbnail", blob=sha) for i, sha in zip(ids, order, strict=True)]
            catalog.images.add_images(images, [created(i) for i in ids], Keeper())
            for i in ids[:3]:
                derived = [BlobRef(sha, f"thumbnail:{n}") for n, sha in enumerate(order[::-1])]
                catalog.images.finish_features(
                    i, [done("thumbnail", {})], derived, Keeper(), f"{i}:done"
                )
            catalog.images.delete_image(
                ids[0], cloud_event(EventType.IMAGE_DELETED, ids[0], {}), Keeper()
            )

    run_together([lambda writer=writer: batch(writer) for writer in range(WRITERS)])
    with catalog.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(t.blobs)) == len(shas)
        assert conn.scalar(select(func.count()).select_from(t.images)) == WRITERS * 4 * 4


def test_deleting_an_image_while_its_results_arrive(catalog: Stores) -> None:
    """A deletion and a worker's results for the same image, racing: whichever commits first,
    no deadlock, and no blob row is left without a reference."""
    ids = [f"img_{n}" for n in range(8)]
    catalog.images.add_images(
        [image(i, "thumbnail") for i in ids], [created(i) for i in ids], Keeper()
    )
    tasks: list[Callable[..., object]] = []
    for i in ids:
        thumb = BlobRef(hashlib.sha256(f"thumb {i}".encode()).hexdigest(), "thumbnail:small")
        tasks.append(
            lambda i=i, thumb=thumb: catalog.images.finish_features(
                i, [done("thumbnail", {})], [thumb], Keeper(), f"{i}:done"
            )
        )
        tasks.append(
            lambda i=i: catalog.images.delete_image(
                i, cloud_event(EventType.IMAGE_DELETED, i, {}), Keeper()
            )
        )
    run_together(tasks)
    with catalog.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(t.images)) == 0
        assert conn.scalar(select(func.count()).select_from(t.blobs)) == 0


# -- failures before commit --------------------------------------------------------------------


@pytest.mark.postgres
def test_a_deletion_cut_off_before_its_commit_keeps_the_blob(services: Stack) -> None:
    """The connection of a deletion is cut while it waits for the events' seq lock (as by a
    failover): the image stays, so its bytes must stay in the store too."""
    url = services.postgres.new_database(prepare=migrate)
    catalog = open_stores(url)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        catalog.images.add_images([image("img_kept")], [created("img_kept")], Keeper())
        keeper = Keeper()
        failures: list[Exception] = []

        def delete() -> None:
            try:
                catalog.images.delete_image(
                    "img_kept", cloud_event(EventType.IMAGE_DELETED, "img_kept", {}), keeper
                )
            except Exception as exc:
                failures.append(exc)

        with psycopg.connect(dsn, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (SEQ_LOCKS[t.events.name],))
            deleting = threading.Thread(target=delete)
            deleting.start()
            waiting = "SELECT pid FROM pg_stat_activity WHERE wait_event = 'advisory'"
            deadline = time.monotonic() + 30
            while not holder.execute(waiting).fetchall():
                assert time.monotonic() < deadline
                time.sleep(0.02)
            holder.execute(f"SELECT pg_terminate_backend(pid) FROM ({waiting}) AS w")
            deleting.join(30)
        assert failures
        assert keeper.discarded == []
        assert catalog.images.get_image("img_kept") is not None
    finally:
        catalog.close()
        services.postgres.drop_database(url)
