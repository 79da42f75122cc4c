"""Stores on SQLite and PostgreSQL: migrations, the outbox, feature results, blob references,
phash index, and what concurrent writers must not break."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from sightline.blobs import StoreKeeper, open_blob_store
from sightline.events import EventType, cloud_event
from sightline.images.sql import FIRST_COPY
from sightline.images.store import BlobUse, ImageOrder, ImageQuery
from sightline.storage import change_marks
from sightline.storage import tables as t
from sightline.storage.change_marks import MarkMoved
from sightline.storage.records import BlobRef, FeatureState, FeatureStatus, ImageStatus, NewImage
from sightline.stores import Stores, open_stores
from support.catalogs import schema_differences


class FakeKeeper:
    """Records the catalog's blob side effects; `fail_on` makes `ensure` raise for one blob."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.ensured: list[str] = []
        self.discarded: list[str] = []

    def ensure(self, sha256: str) -> None:
        if sha256 == self.fail_on:
            raise OSError(f"cannot write {sha256}")
        self.ensured.append(sha256)

    def discard(self, sha256: str) -> None:
        self.discarded.append(sha256)


def sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def pending(*features: str) -> list[FeatureState]:
    return [FeatureState(name, FeatureStatus.PENDING, f"{name}-analyzer", "1") for name in features]


def done(feature: str, result: dict[str, Any] | None = None) -> FeatureState:
    return FeatureState(
        feature, FeatureStatus.DONE, f"{feature}-analyzer", "1", result or {"ok": True}
    )


def failed(feature: str, code: str = "Boom") -> FeatureState:
    error = {"code": code, "message": f"{feature} broke"}
    return FeatureState(feature, FeatureStatus.FAILED, f"{feature}-analyzer", "1", None, error)


def new_image(
    image_id: str,
    *,
    blob: str | None = None,
    content_type: str = "image/png",
    features: Sequence[str] = ("hash", "thumbnail"),
    collection: str = "default",
) -> NewImage:
    return NewImage(
        id=image_id,
        sha256=blob or sha(image_id),
        filename=f"{image_id}.png",
        content_type=content_type,
        format="PNG",
        size=1234,
        width=64,
        height=48,
        client_metadata={"album": "tests"},
        features=pending(*features),
        collection=collection,
    )


def created(image_id: str, *, time: datetime | None = None) -> dict[str, Any]:
    return cloud_event(EventType.IMAGE_CREATED, image_id, {"id": image_id}, time=time)


def deleted(image_id: str) -> dict[str, Any]:
    return cloud_event(EventType.IMAGE_DELETED, image_id, {"id": image_id})


@pytest.fixture
def url(catalog_url: str) -> str:
    return catalog_url


@pytest.fixture
def catalog(url: str) -> Iterator[Stores]:
    backend = open_stores(url)
    yield backend
    backend.close()


def add(catalog: Stores, *images: NewImage, keeper: FakeKeeper | None = None) -> None:
    catalog.images.add_images(
        images, [created(image.id) for image in images], keeper or FakeKeeper()
    )


def all_events(catalog: Stores) -> list[dict[str, Any]]:
    return [stored.envelope for stored in catalog.events.events_after(0, 10_000)]


def event_types(catalog: Stores) -> list[str]:
    return [envelope["type"] for envelope in all_events(catalog)]


def count(catalog: Stores, table: Any, *where: Any) -> int:
    assert isinstance(catalog, Stores)
    with catalog.db.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def refs(catalog: Stores, image_id: str) -> set[tuple[str, str]]:
    assert isinstance(catalog, Stores)
    with catalog.db.read() as conn:
        rows = conn.execute(
            select(t.blob_refs.c.sha256, t.blob_refs.c.role).where(
                t.blob_refs.c.image_id == image_id
            )
        ).all()
    return {(row.sha256, row.role) for row in rows}


# -- migrations ------------------------------------------------------------------------------


def test_migrated_schema_matches_the_table_definitions(catalog: Stores) -> None:
    assert isinstance(catalog, Stores)
    assert schema_differences(catalog.db) == []


def test_opening_twice_keeps_the_data(url: str) -> None:
    first = open_stores(url)
    add(first, new_image("img_1"))
    first.close()
    second = open_stores(url)
    try:
        record = second.images.get_image("img_1")
        assert record is not None
        assert record.filename == "img_1.png"
        assert second.events.last_event_seq() == 1
    finally:
        second.close()


# -- add_images ------------------------------------------------------------------------------


def test_add_images_stores_images_features_refs_and_events(catalog: Stores) -> None:
    keeper = FakeKeeper()
    [record] = catalog.images.add_images([new_image("img_1")], [created("img_1")], keeper)

    assert record.id == "img_1"
    assert record.sha256 == sha("img_1")
    assert record.status is ImageStatus.PENDING
    assert record.client_metadata == {"album": "tests"}
    assert record.duplicate_of is None
    assert record.created_at.tzinfo is not None
    assert set(record.features) == {"hash", "thumbnail"}
    assert all(f.status is FeatureStatus.PENDING for f in record.features.values())
    assert catalog.images.get_image("img_1") == record

    assert keeper.ensured == [sha("img_1")]
    assert refs(catalog, "img_1") == {(sha("img_1"), "original")}
    assert count(catalog, t.blobs) == 1
    [event] = all_events(catalog)
    assert event["type"] == "sightline.image.created"
    assert event["subject"] == "images/img_1"
    assert event["data"] == {"id": "img_1"}


def test_add_images_answers_what_reading_the_images_back_gives(catalog: Stores) -> None:
    """The records `add_images` returns are built from what it wrote, not read back: they must
    equal what a read gives, metadata (key order, numbers, text) and feature order included."""
    metadata = {"z": 1, "a": [1.5, 1e-07, "é日", {"b": None}], "big": 2**53 + 1, "": True}
    image = replace(
        new_image("img_1", features=("tags", "hash", "color")), client_metadata=metadata
    )
    [record] = catalog.images.add_images([image], [created("img_1")], FakeKeeper())
    stored = catalog.images.get_image("img_1")
    assert stored == record
    assert stored is not None and list(stored.client_metadata) == list(metadata)
    assert list(record.features) == ["color", "hash", "tags"]


def test_add_images_is_all_or_nothing_when_a_blob_cannot_be_ensured(
    catalog: Stores,
) -> None:
    images = [new_image("img_1", blob=sha("a")), new_image("img_2", blob=sha("b"))]
    with pytest.raises(OSError):
        catalog.images.add_images(
            images, [created("img_1"), created("img_2")], FakeKeeper(fail_on=sha("b"))
        )
    assert catalog.images.get_image("img_1") is None
    assert catalog.images.get_image("img_2") is None
    assert catalog.images.list_images(ImageQuery()) == []
    assert catalog.events.last_event_seq() == 0
    assert catalog.events.undispatched_events(10) == []
    assert count(catalog, t.blobs) == 0
    assert count(catalog, t.blob_refs) == 0
    assert count(catalog, t.feature_results) == 0


def test_add_images_is_all_or_nothing_when_an_insert_fails(catalog: Stores) -> None:
    add(catalog, new_image("img_1"))
    with pytest.raises(Exception):  # noqa: B017 - whichever error, nothing may be half-stored
        catalog.images.add_images(
            [new_image("img_2"), new_image("img_1")],
            [created("img_2"), created("img_1b")],
            FakeKeeper(),
        )
    assert catalog.images.get_image("img_2") is None
    assert catalog.events.last_event_seq() == 1
    assert count(catalog, t.feature_results) == 2


def test_add_images_relying_on_a_moved_mark_writes_nothing(catalog: Stores) -> None:
    """Features chosen from a kept copy (the classifiers run on upload) are written only while
    the copy's mark holds: a change since, made by any process, refuses the write."""
    with catalog.db.read() as conn:
        kept = change_marks.current(conn, "classifiers")
    add_held = [new_image("img_1")], [created("img_1")], FakeKeeper()
    assert catalog.images.add_images(*add_held, as_of=kept)[0].id == "img_1"
    with catalog.db.write() as conn:
        change_marks.renew(conn, "classifiers")
    with pytest.raises(MarkMoved):
        catalog.images.add_images(
            [new_image("img_2")], [created("img_2")], FakeKeeper(), as_of=kept
        )
    assert catalog.images.get_image("img_2") is None
    assert event_types(catalog) == ["sightline.image.created"]
    with catalog.db.read() as conn:
        current = change_marks.current(conn, "classifiers")
    assert current != kept
    add_now = [new_image("img_2")], [created("img_2")], FakeKeeper()
    assert catalog.images.add_images(*add_now, as_of=current)[0].id == "img_2"


def test_second_image_with_the_same_bytes_is_a_duplicate(catalog: Stores) -> None:
    blob = sha("same bytes")
    add(catalog, new_image("img_1", blob=blob))
    [second] = catalog.images.add_images(
        [new_image("img_2", blob=blob)], [created("img_2")], FakeKeeper()
    )
    assert second.duplicate_of == "img_1"
    first = catalog.images.get_image("img_1")
    assert first is not None and first.duplicate_of is None
    assert count(catalog, t.blobs) == 1
    assert refs(catalog, "img_2") == {(blob, "original")}


def test_duplicates_within_one_batch(catalog: Stores) -> None:
    blob = sha("same bytes")
    records = catalog.images.add_images(
        [new_image("img_1", blob=blob), new_image("img_2", blob=blob)],
        [created("img_1"), created("img_2")],
        FakeKeeper(),
    )
    assert [r.duplicate_of for r in records] == [None, "img_1"]
    assert records == [catalog.images.get_image(record.id) for record in records]
    assert event_types(catalog) == ["sightline.image.created"] * 2


def test_uploads_committed_in_one_group_are_written_as_one_after_the_other(
    tmp_path: Path,
) -> None:
    """On SQLite, uploads queued while the catalog is being written are committed together
    (storage/group_commit.py): each gets the records, and the duplicates, that writing them one
    after the other would give."""
    catalog = open_stores(f"sqlite:///{tmp_path / 'catalog.db'}")
    grouped = catalog.images._grouped_additions  # noqa: SLF001 - the queue is what is tested
    assert grouped is not None
    commits: list[int] = []
    event.listen(catalog.db.engine, "commit", lambda _conn: commits.append(1))
    blob = sha("same bytes")
    uploads = [  # in the order they queue; ids are not in that order
        new_image("img_5", blob=blob),
        new_image("img_3", blob=blob),
        new_image("img_4", blob=blob),
        new_image("img_6", blob=blob, collection="beta"),
    ]
    pool = ThreadPoolExecutor(len(uploads) + 1)
    try:
        with catalog.db.write():  # holds the catalog: the first upload waits, the rest queue
            first = pool.submit(add, catalog, new_image("img_0"))
            answers = []
            for queued, image in enumerate(uploads, start=1):
                answers.append(
                    pool.submit(
                        catalog.images.add_images, [image], [created(image.id)], FakeKeeper()
                    )
                )
                deadline = time.monotonic() + 10
                while len(grouped._queue) < queued:  # noqa: SLF001
                    assert time.monotonic() < deadline
                    time.sleep(0.001)
            commits.clear()
        first.result(10)
        records = [answer.result(10)[0] for answer in answers]
    finally:
        pool.shutdown()
    # The hold's own (empty) commit, img_0 alone, then the four queued behind it together.
    assert len(commits) == 3
    assert [record.duplicate_of for record in records] == [None, "img_5", "img_3", None]
    assert records == [catalog.images.get_image(record.id) for record in records]
    assert count(catalog, t.blob_refs) == 5
    assert event_types(catalog) == ["sightline.image.created"] * 5
    catalog.close()


def test_get_unknown_image(catalog: Stores) -> None:
    assert catalog.images.get_image("nope") is None


# -- collections -----------------------------------------------------------------------------


def test_a_copy_in_another_collection_is_no_duplicate(catalog: Stores) -> None:
    blob = sha("same bytes")
    add(catalog, new_image("img_1", blob=blob, collection="alpha"))
    [other, again] = catalog.images.add_images(
        [
            new_image("img_2", blob=blob, collection="beta"),
            new_image("img_3", blob=blob, collection="beta"),
        ],
        [created("img_2"), created("img_3")],
        FakeKeeper(),
    )
    # Linking to alpha's copy would tell beta that alpha holds the file; the bytes are shared.
    assert other.duplicate_of is None and other.collection == "beta"
    assert again.duplicate_of == "img_2"
    assert count(catalog, t.blobs) == 1


def test_reads_within_a_collection_find_only_its_images(catalog: Stores) -> None:
    for n, collection in enumerate(["alpha", "beta", "alpha", "beta"]):
        add(catalog, new_image(f"img_{n}", collection=collection))
    images = catalog.images

    found = images.get_image("img_1", "alpha")
    assert found is None
    beta = images.get_image("img_1", "beta")
    assert beta is not None and beta.collection == "beta"
    assert images.get_image("img_1") == beta
    assert set(images.get_images(["img_0", "img_1", "img_2"], "alpha")) == {"img_0", "img_2"}
    assert set(images.get_images(["img_0", "img_1"])) == {"img_0", "img_1"}

    def listed(**filters: Any) -> list[str]:
        return [record.id for record in images.list_images(ImageQuery(**filters))]

    assert listed(collection="alpha") == ["img_2", "img_0"]
    assert listed(collection="beta", after_id="img_3") == ["img_1"]
    assert listed(collection="gamma") == []
    assert listed() == ["img_3", "img_2", "img_1", "img_0"]
    assert images.image_ids_after("", 10, "beta") == ["img_1", "img_3"]
    assert images.image_ids_after("img_0", 10) == ["img_1", "img_2", "img_3"]


def test_near_duplicates_within_a_collection(catalog: Stores) -> None:
    for name, collection, phash in [
        ("origin", "alpha", "0000000000000000"),
        ("alpha_near", "alpha", "0000000000000001"),
        ("beta_near", "beta", "0000000000000003"),
        ("beta_copy", "beta", "0000000000000000"),
    ]:
        add(catalog, new_image(name, features=("hash",), collection=collection))
        catalog.images.finish_features(
            name, [done("hash")], [], FakeKeeper(), f"{name}:done", phash=phash
        )
    assert catalog.images.near_duplicates("origin", 7, "alpha") == [("alpha_near", 1)]
    assert catalog.images.near_duplicates("origin", 7) == [
        ("beta_copy", 0),
        ("alpha_near", 1),
        ("beta_near", 2),
    ]


def test_events_name_their_collection_and_are_read_by_it(catalog: Stores) -> None:
    for n, collection in enumerate(["alpha", "beta", "alpha"]):
        image = new_image(f"img_{n}", collection=collection)
        event = cloud_event(
            EventType.IMAGE_CREATED, image.id, {"id": image.id}, collection=collection
        )
        catalog.images.add_images([image], [event], FakeKeeper())
    catalog.events.record_events(
        [cloud_event(EventType.INDEX_REBUILD_REQUESTED, "x", {"feature": "embedding"})]
    )

    def subjects(collection: str | None, after: int = 0) -> list[str]:
        found = catalog.events.events_after(after, 10, collection)
        return [stored.envelope["subject"] for stored in found]

    assert subjects("alpha") == ["images/img_0", "images/img_2"]
    assert subjects("beta") == ["images/img_1"]
    assert len(subjects(None)) == 4
    first = catalog.events.events_after(0, 1, "alpha")[0]
    assert first.envelope["collection"] == "alpha"
    assert subjects("alpha", after=first.seq) == ["images/img_2"]
    # An event about the server names no collection: no collection's stream has it.
    assert "collection" not in catalog.events.events_after(0, 10)[-1].envelope


# -- list_images -----------------------------------------------------------------------------


@pytest.mark.parametrize("order", list(ImageOrder))
def test_list_images_in_either_order_with_keyset_pagination(
    catalog: Stores, order: ImageOrder
) -> None:
    ids = [f"img_{n:02d}" for n in range(7)]
    for image_id in ids:
        add(catalog, new_image(image_id))
    expected = ids[::-1] if order is ImageOrder.NEWEST else ids

    pages: list[list[str]] = []
    after_id = None
    while True:
        query = ImageQuery(order=order, after_id=after_id, limit=3)
        page = catalog.images.list_images(query)
        if not page:
            break
        pages.append([record.id for record in page])
        after_id = page[-1].id
    assert pages == [expected[0:3], expected[3:6], expected[6:7]]
    assert catalog.images.count_images(ImageQuery(order=order, after_id=ids[3], limit=1)) == 7


def test_count_images_counts_what_the_filters_keep(catalog: Stores) -> None:
    add(catalog, new_image("img_1", content_type="image/jpeg"))
    add(catalog, new_image("img_2"))
    assert catalog.images.count_images(ImageQuery()) == 2
    assert catalog.images.count_images(ImageQuery(content_type="image/png")) == 1
    assert catalog.images.count_images(ImageQuery(collection="elsewhere")) == 0


def test_list_images_carries_features(catalog: Stores) -> None:
    add(catalog, new_image("img_1", features=("hash",)))
    [record] = catalog.images.list_images(ImageQuery())
    assert set(record.features) == {"hash"}


def test_list_images_filters(catalog: Stores) -> None:
    add(catalog, new_image("img_1", content_type="image/png"))
    between_1_and_2 = datetime.now(UTC)
    add(catalog, new_image("img_2", content_type="image/jpeg"))
    between_2_and_3 = datetime.now(UTC)
    add(catalog, new_image("img_3", content_type="image/png", features=("hash",)))
    catalog.images.finish_features("img_3", [done("hash")], [], FakeKeeper(), "done-3")

    def ids(**filters: Any) -> list[str]:
        return [record.id for record in catalog.images.list_images(ImageQuery(**filters))]

    assert ids() == ["img_3", "img_2", "img_1"]
    assert ids(status=ImageStatus.DONE) == ["img_3"]
    assert ids(status=ImageStatus.PENDING) == ["img_2", "img_1"]
    assert ids(status=ImageStatus.FAILED) == []
    assert ids(content_type="image/png") == ["img_3", "img_1"]
    assert ids(content_type="image/gif") == []
    assert ids(uploaded_after=between_1_and_2) == ["img_3", "img_2"]
    assert ids(uploaded_before=between_2_and_3) == ["img_2", "img_1"]
    assert ids(uploaded_after=between_1_and_2, uploaded_before=between_2_and_3) == ["img_2"]
    assert ids(content_type="image/png", uploaded_after=between_1_and_2) == ["img_3"]
    assert ids(status=ImageStatus.PENDING, after_id="img_2") == ["img_1"]


def test_list_images_filters_by_time_in_any_timezone(catalog: Stores) -> None:
    add(catalog, new_image("img_1"))
    marker = datetime.now(UTC)
    add(catalog, new_image("img_2"))
    elsewhere = marker.astimezone(timezone(timedelta(hours=-5)))
    assert [r.id for r in catalog.images.list_images(ImageQuery(uploaded_after=elsewhere))] == [
        "img_2"
    ]


# -- features --------------------------------------------------------------------------------


def test_start_features_marks_them_running(catalog: Stores) -> None:
    add(catalog, new_image("img_1"))
    record = catalog.images.start_features("img_1", ["hash"])
    assert record is not None
    assert record.status is ImageStatus.PROCESSING
    assert record.features["hash"].status is FeatureStatus.RUNNING
    assert record.features["thumbnail"].status is FeatureStatus.PENDING
    assert catalog.images.get_image("img_1") == record


def test_start_features_on_an_unknown_image(catalog: Stores) -> None:
    assert catalog.images.start_features("nope", ["hash"]) is None


def test_finish_features_twice_stores_one_row_per_feature_and_one_event(
    catalog: Stores,
) -> None:
    add(catalog, new_image("img_1"))
    catalog.images.start_features("img_1", ["hash", "thumbnail"])
    outcomes = [done("hash", {"phash": "00ff"}), done("thumbnail", {"width": 32})]
    for _ in range(2):
        record = catalog.images.finish_features(
            "img_1", outcomes, [], FakeKeeper(), "job-1:finished"
        )
        assert record is not None
        assert record.status is ImageStatus.DONE

    assert count(catalog, t.feature_results, t.feature_results.c.image_id == "img_1") == 2
    analyzed = [e for e in all_events(catalog) if e["type"] == "sightline.image.analyzed"]
    assert len(analyzed) == 1
    assert analyzed[0]["id"] == "job-1:finished"
    assert analyzed[0]["subject"] == "images/img_1"
    assert analyzed[0]["data"]["status"] == "done"
    assert analyzed[0]["data"]["features"] == {"hash": "done", "thumbnail": "done"}
    assert "errors" not in analyzed[0]["data"]
    record = catalog.images.get_image("img_1")
    assert record is not None
    assert record.features["hash"].result == {"phash": "00ff"}
    assert record.features["thumbnail"].analyzer == "thumbnail-analyzer"


def test_no_completion_event_until_every_feature_ended(catalog: Stores) -> None:
    add(catalog, new_image("img_1"))
    record = catalog.images.finish_features("img_1", [done("hash")], [], FakeKeeper(), "partial")
    assert record is not None
    assert record.status is ImageStatus.PROCESSING
    assert event_types(catalog) == ["sightline.image.created"]


def test_a_failed_feature_fails_the_image_with_an_event(catalog: Stores) -> None:
    add(catalog, new_image("img_1"))
    record = catalog.images.finish_features(
        "img_1", [done("hash"), failed("thumbnail", "Decoder")], [], FakeKeeper(), "job:finished"
    )
    assert record is not None
    assert record.status is ImageStatus.FAILED
    assert record.features["thumbnail"].status is FeatureStatus.FAILED
    assert record.features["thumbnail"].error == {"code": "Decoder", "message": "thumbnail broke"}
    assert event_types(catalog) == ["sightline.image.created", "sightline.image.failed"]
    event = all_events(catalog)[-1]
    assert event["data"]["status"] == "failed"
    assert event["data"]["features"] == {"hash": "done", "thumbnail": "failed"}
    assert event["data"]["errors"] == {
        "thumbnail": {"code": "Decoder", "message": "thumbnail broke"}
    }


def test_finish_features_on_a_deleted_image_discards_its_derived_blobs(
    catalog: Stores,
) -> None:
    add(catalog, new_image("img_1"))
    catalog.images.delete_image("img_1", deleted("img_1"), FakeKeeper())
    keeper = FakeKeeper()
    result = catalog.images.finish_features(
        "img_1",
        [done("thumbnail")],
        [BlobRef(sha("thumb"), "thumbnail:small"), BlobRef(sha("thumb-l"), "thumbnail:large")],
        keeper,
        "late:finished",
    )
    assert result is None
    assert sorted(keeper.discarded) == sorted([sha("thumb"), sha("thumb-l")])
    assert count(catalog, t.feature_results) == 0
    assert count(catalog, t.blobs) == 0
    assert "sightline.image.analyzed" not in event_types(catalog)


def test_finish_features_on_a_deleted_image_keeps_blobs_others_use(
    catalog: Stores,
) -> None:
    add(catalog, new_image("img_1"), new_image("img_2"))
    shared = sha("shared thumb")
    catalog.images.finish_features(
        "img_2", [done("thumbnail")], [BlobRef(shared, "thumbnail:small")], FakeKeeper(), "j2"
    )
    catalog.images.delete_image("img_1", deleted("img_1"), FakeKeeper())
    keeper = FakeKeeper()
    catalog.images.finish_features(
        "img_1", [done("thumbnail")], [BlobRef(shared, "thumbnail:small")], keeper, "j1"
    )
    assert keeper.discarded == []
    assert refs(catalog, "img_2") >= {(shared, "thumbnail:small")}


def test_derived_blob_refs_are_replaced_on_rerun(catalog: Stores) -> None:
    add(catalog, new_image("img_1"), new_image("img_2"))
    old, shared, new = sha("old"), sha("shared"), sha("new")
    keeper = FakeKeeper()
    catalog.images.finish_features(
        "img_1",
        [done("thumbnail")],
        [BlobRef(old, "thumbnail:small"), BlobRef(shared, "thumbnail:large")],
        keeper,
        "run-1",
    )
    assert sorted(keeper.ensured) == sorted([old, shared])
    catalog.images.finish_features(
        "img_2", [done("thumbnail")], [BlobRef(shared, "thumbnail:small")], FakeKeeper(), "run-2"
    )

    keeper = FakeKeeper()
    catalog.images.finish_features(
        "img_1", [done("thumbnail")], [BlobRef(new, "thumbnail:small")], keeper, "run-3"
    )
    assert keeper.discarded == [old]
    assert keeper.ensured == [new]
    assert refs(catalog, "img_1") == {(sha("img_1"), "original"), (new, "thumbnail:small")}
    assert refs(catalog, "img_2") == {(sha("img_2"), "original"), (shared, "thumbnail:small")}


def test_rerunning_one_feature_keeps_the_blobs_of_another(catalog: Stores) -> None:
    add(catalog, new_image("img_1", features=("thumbnail", "faces")))
    thumb, crop, crop2 = sha("thumb"), sha("crop"), sha("crop2")
    catalog.images.finish_features(
        "img_1",
        [done("thumbnail"), done("faces")],
        [BlobRef(thumb, "thumbnail:small"), BlobRef(crop, "faces:0")],
        FakeKeeper(),
        "run-1",
    )
    keeper = FakeKeeper()
    catalog.images.finish_features(
        "img_1", [done("faces")], [BlobRef(crop2, "faces:0")], keeper, "r2"
    )
    assert keeper.discarded == [crop]
    assert refs(catalog, "img_1") == {
        (sha("img_1"), "original"),
        (thumb, "thumbnail:small"),
        (crop2, "faces:0"),
    }


def test_finish_features_with_a_real_store_keeper(catalog: Stores, tmp_path: Path) -> None:
    blobs = open_blob_store((tmp_path / "blobs").as_uri())
    original = b"original bytes"
    image = new_image("img_1", blob=hashlib.sha256(original).hexdigest())
    catalog.images.add_images(
        [image], [created("img_1")], StoreKeeper(blobs, {image.sha256: original})
    )
    assert blobs.exists(image.sha256)

    first = blobs.put(b"thumb v1")
    catalog.images.finish_features(
        "img_1", [done("thumbnail")], [BlobRef(first, "thumbnail:small")], StoreKeeper(blobs), "1"
    )
    second = blobs.put(b"thumb v2")
    catalog.images.finish_features(
        "img_1", [done("thumbnail")], [BlobRef(second, "thumbnail:small")], StoreKeeper(blobs), "2"
    )
    assert not blobs.exists(first)
    assert blobs.exists(second)

    catalog.images.delete_image("img_1", deleted("img_1"), StoreKeeper(blobs))
    assert not blobs.exists(second)
    assert not blobs.exists(image.sha256)


# -- delete_image ----------------------------------------------------------------------------


def test_delete_image_discards_the_original_only_when_unreferenced(
    catalog: Stores,
) -> None:
    blob = sha("same bytes")
    add(catalog, new_image("img_1", blob=blob), new_image("img_2", blob=blob))

    keeper = FakeKeeper()
    record = catalog.images.delete_image("img_1", deleted("img_1"), keeper)
    assert record is not None and record.id == "img_1"
    assert keeper.discarded == []
    assert catalog.images.get_image("img_1") is None
    assert catalog.images.get_image("img_2") is not None

    keeper = FakeKeeper()
    catalog.images.delete_image("img_2", deleted("img_2"), keeper)
    assert keeper.discarded == [blob]
    assert count(catalog, t.blobs) == 0
    assert count(catalog, t.blob_refs) == 0


def test_delete_image_removes_everything_and_emits_the_event(catalog: Stores) -> None:
    add(catalog, new_image("img_1"))
    catalog.images.finish_features(
        "img_1",
        [done("hash"), done("thumbnail")],
        [BlobRef(sha("thumb"), "thumbnail:small")],
        FakeKeeper(),
        "finished",
        phash="0123456789abcdef",
    )
    keeper = FakeKeeper()
    record = catalog.images.delete_image("img_1", deleted("img_1"), keeper)
    assert record is not None
    assert record.status is ImageStatus.DONE
    assert sorted(keeper.discarded) == sorted([sha("img_1"), sha("thumb")])
    for table in (t.images, t.feature_results, t.blob_refs, t.blobs, t.image_phashes):
        assert count(catalog, table) == 0
    assert count(catalog, t.phash_bands) == 0
    event = all_events(catalog)[-1]
    assert event["type"] == "sightline.image.deleted"
    assert event["subject"] == "images/img_1"


def test_delete_unknown_image(catalog: Stores) -> None:
    keeper = FakeKeeper()
    assert catalog.images.delete_image("nope", deleted("nope"), keeper) is None
    assert keeper.discarded == []
    assert catalog.events.last_event_seq() == 0


# -- near duplicates -------------------------------------------------------------------------


PHASHES = {
    "origin": "0000000000000000",
    "one_bit": "0000000000000001",
    "three_bits": "0000000000000700",
    # Seven bits, one in each of bands 1..7: shares only band 0 with the origin.
    "seven_spread": "0101010101010100",
    # Eight bits: shares seven bands exactly, yet is beyond any allowed distance.
    "eight_bits": "00000000000000ff",
    "far": "ffffffffffffffff",
}


@pytest.fixture
def indexed(catalog: Stores) -> Stores:
    add(catalog, *(new_image(name, features=("hash",)) for name in PHASHES))
    for name, phash in PHASHES.items():
        catalog.images.finish_features(
            name, [done("hash", {"phash": phash})], [], FakeKeeper(), f"{name}:done", phash=phash
        )
    add(catalog, new_image("unhashed", features=("hash",)))
    return catalog


def test_near_duplicates_nearest_first(indexed: Stores) -> None:
    assert indexed.images.near_duplicates("origin", 7) == [
        ("one_bit", 1),
        ("three_bits", 3),
        ("seven_spread", 7),
    ]


def test_near_duplicates_respects_max_distance(indexed: Stores) -> None:
    assert indexed.images.near_duplicates("origin", 3) == [("one_bit", 1), ("three_bits", 3)]
    assert indexed.images.near_duplicates("origin", 0) == []
    assert indexed.images.near_duplicates("one_bit", 1) == [("origin", 1)]


def test_near_duplicates_finds_exact_copies(indexed: Stores) -> None:
    add(indexed, new_image("copy", features=("hash",)))
    indexed.images.finish_features(
        "copy", [done("hash")], [], FakeKeeper(), "c", phash=PHASHES["far"]
    )
    assert indexed.images.near_duplicates("far", 0) == [("copy", 0)]
    assert indexed.images.near_duplicates("copy", 7) == [("far", 0)]


def test_near_duplicates_of_an_unhashed_or_unknown_image(indexed: Stores) -> None:
    assert indexed.images.near_duplicates("unhashed", 7) == []
    assert indexed.images.near_duplicates("nope", 7) == []


def test_reindexing_a_phash_replaces_the_old_one(indexed: Stores) -> None:
    indexed.images.finish_features(
        "far", [done("hash")], [], FakeKeeper(), "again", phash="0000000000000003"
    )
    assert indexed.images.near_duplicates("origin", 2) == [("one_bit", 1), ("far", 2)]
    assert indexed.images.near_duplicates("far", 7) == [
        ("one_bit", 1),
        ("origin", 2),
        ("three_bits", 5),
        ("eight_bits", 6),
    ]
    assert count(indexed, t.phash_bands, t.phash_bands.c.image_id == "far") == 8


def test_deleted_images_are_not_near_duplicates(indexed: Stores) -> None:
    indexed.images.delete_image("one_bit", deleted("one_bit"), FakeKeeper())
    assert [match[0] for match in indexed.images.near_duplicates("origin", 7)] == [
        "three_bits",
        "seven_spread",
    ]


@pytest.mark.parametrize("max_distance", [-1, 8, 64])
def test_near_duplicates_rejects_distances_outside_the_index(
    indexed: Stores, max_distance: int
) -> None:
    with pytest.raises(ValueError):
        indexed.images.near_duplicates("origin", max_distance)


# -- events ----------------------------------------------------------------------------------


def test_undispatched_events_and_mark_dispatched(catalog: Stores) -> None:
    for n in range(4):
        add(catalog, new_image(f"img_{n}"))
    pending_events = catalog.events.undispatched_events(10)
    assert [e.envelope["subject"] for e in pending_events] == [f"images/img_{n}" for n in range(4)]
    seqs = [e.seq for e in pending_events]
    assert seqs == sorted(seqs)
    assert [e.seq for e in catalog.events.undispatched_events(2)] == seqs[:2]

    catalog.events.mark_dispatched(seqs[:3])
    assert [e.seq for e in catalog.events.undispatched_events(10)] == seqs[3:]
    catalog.events.mark_dispatched([])
    catalog.events.mark_dispatched(seqs[3:])
    assert catalog.events.undispatched_events(10) == []
    # Dispatched events stay readable in the log.
    assert [e.seq for e in catalog.events.events_after(0, 10)] == seqs


def test_stored_envelopes_round_trip(catalog: Stores) -> None:
    envelope = created("img_1")
    catalog.images.add_images([new_image("img_1")], [envelope], FakeKeeper())
    [stored] = catalog.events.undispatched_events(1)
    assert stored.envelope == envelope


def test_events_after_and_last_event_seq(catalog: Stores) -> None:
    assert catalog.events.last_event_seq() == 0
    assert catalog.events.events_after(0, 10) == []
    for n in range(5):
        add(catalog, new_image(f"img_{n}"))
    everything = catalog.events.events_after(0, 100)
    seqs = [e.seq for e in everything]
    assert len(seqs) == 5
    assert seqs == sorted(seqs)
    assert catalog.events.last_event_seq() == seqs[-1]
    assert [e.seq for e in catalog.events.events_after(seqs[1], 2)] == seqs[2:4]
    assert catalog.events.events_after(seqs[-1], 10) == []


def test_the_same_event_id_is_stored_once(catalog: Stores) -> None:
    envelope = created("img_1")
    catalog.images.add_images([new_image("img_1")], [envelope], FakeKeeper())
    catalog.images.add_images([new_image("img_2")], [envelope], FakeKeeper())
    assert len(all_events(catalog)) == 1


def test_prune_events_only_deletes_finished_events_older_than_the_cut_off(
    catalog: Stores,
) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=3)
    catalog.images.add_images(
        [new_image(name) for name in "abcd"],
        [
            created("a", time=old),
            created("b", time=old),
            created("c", time=now),
            created("d", time=old),
        ],
        FakeKeeper(),
    )
    events = {e.envelope["subject"]: e for e in catalog.events.undispatched_events(10)}
    seq = {subject: event.seq for subject, event in events.items()}
    # a: relayed, asked for no job; c: the same but recent; d: relayed, its job still running.
    catalog.events.mark_dispatched(
        [seq["images/a"], seq["images/c"], seq["images/d"]],
        finished=[seq["images/a"], seq["images/c"]],
    )

    assert catalog.events.prune_events(now - timedelta(days=1)) == 1
    assert [e.envelope["subject"] for e in catalog.events.events_after(0, 10)] == [
        "images/b",
        "images/c",
        "images/d",
    ]
    assert catalog.events.prune_events(now - timedelta(days=1)) == 0
    catalog.events.mark_jobs_finished([events["images/d"].envelope["id"]])
    assert catalog.events.prune_events(now - timedelta(days=1)) == 1


def test_a_new_queue_epoch_hands_unfinished_jobs_to_the_relay_again(
    catalog: Stores,
) -> None:
    catalog.images.add_images(
        [new_image(name) for name in "abc"], [created(name) for name in "abc"], FakeKeeper()
    )
    events = {e.envelope["subject"]: e for e in catalog.events.undispatched_events(10)}
    catalog.events.mark_dispatched([event.seq for event in events.values()])
    catalog.events.mark_jobs_finished([events["images/a"].envelope["id"]])
    assert catalog.events.sync_queue_epoch("first") == 2
    assert [e.envelope["subject"] for e in catalog.events.undispatched_events(10)] == [
        "images/b",
        "images/c",
    ]
    catalog.events.mark_dispatched([event.seq for event in catalog.events.undispatched_events(10)])

    assert catalog.events.sync_queue_epoch("first") is None  # known: nothing was lost
    assert catalog.events.undispatched_events(10) == []
    assert catalog.events.sync_queue_epoch("second") == 2
    assert catalog.events.redispatch_unfinished() == 0  # already handed back, not yet relayed
    assert len(catalog.events.undispatched_events(10)) == 2


def test_relayed_unfinished_events_and_redispatching_some_of_them(catalog: Stores) -> None:
    catalog.images.add_images(
        [new_image(name) for name in "abcd"], [created(name) for name in "abcd"], FakeKeeper()
    )
    events = {e.envelope["subject"]: e for e in catalog.events.undispatched_events(10)}
    catalog.events.mark_dispatched([events[f"images/{name}"].seq for name in "abc"])
    catalog.events.mark_jobs_finished([events["images/a"].envelope["id"]])
    relayed = catalog.events.relayed_unfinished(0, 10)
    assert [e.envelope["subject"] for e in relayed] == ["images/b", "images/c"]
    assert catalog.events.relayed_unfinished(relayed[0].seq, 10) == relayed[1:]
    seqs = [events[f"images/{name}"].seq for name in "abd"]  # finished, relayed, not relayed
    assert catalog.events.redispatch_unfinished(seqs) == 1
    assert [e.envelope["subject"] for e in catalog.events.relayed_unfinished(0, 10)] == ["images/c"]


# -- audit: blob references and unfinished work ----------------------------------------------


def test_referenced_blobs_come_in_sha256_pages_with_their_uses(catalog: Stores) -> None:
    shared, other, thumb = sha("shared"), sha("other"), sha("thumb")
    add(
        catalog,
        new_image("img_1", blob=shared),
        new_image("img_2", blob=shared),
        new_image("img_3", blob=other),
    )
    catalog.images.finish_features(
        "img_1", [done("thumbnail")], [BlobRef(thumb, "thumbnail:sizes.128")], FakeKeeper(), "1"
    )
    every = sorted([shared, other, thumb])
    assert catalog.images.referenced_blobs("", 2) == every[:2]
    assert catalog.images.referenced_blobs(every[1], 2) == every[2:]
    assert catalog.images.referenced_blobs(every[2], 2) == []
    uses = catalog.images.blob_uses([thumb, shared, sha("nobody's")])
    assert sorted(uses, key=lambda use: (use.sha256, use.image_id)) == sorted(
        [
            BlobUse(shared, "img_1", "original"),
            BlobUse(shared, "img_2", "original"),
            BlobUse(thumb, "img_1", "thumbnail:sizes.128"),
        ],
        key=lambda use: (use.sha256, use.image_id),
    )
    assert [use.feature(["thumb", "thumbnail"]) for use in uses if not use.is_original] == [
        "thumbnail"
    ]


def test_blob_rows_nothing_references_are_found_and_released(catalog: Stores) -> None:
    add(catalog, new_image("img_1"))
    now = datetime.now(UTC)
    with catalog.db.write() as conn:  # what a crash between a deletion and its release leaves
        conn.execute(
            insert(t.blobs),
            [
                {"sha256": sha("left behind"), "created_at": now - timedelta(hours=2)},
                {"sha256": sha("just written"), "created_at": now},
            ],
        )
    an_hour_ago = now - timedelta(hours=1)
    assert catalog.images.unreferenced_blob_rows(an_hour_ago, "", 10) == [sha("left behind")]
    assert catalog.images.unreferenced_blob_rows(an_hour_ago, sha("left behind"), 10) == []
    keeper = FakeKeeper()
    released = catalog.images.release_blobs([sha("left behind"), sha("img_1")], keeper)
    assert released == keeper.discarded == [sha("left behind")]
    assert catalog.images.unreferenced_blob_rows(an_hour_ago, "", 10) == []


def test_stranded_features_are_those_no_unfinished_event_asks_for(catalog: Stores) -> None:
    def asking(image_id: str, *features: str) -> dict[str, Any]:
        data = {"id": image_id, "features": list(features)}
        return cloud_event(EventType.IMAGE_CREATED, image_id, data)

    images = [new_image(f"img_{name}") for name in "abcde"]
    asks = [
        asking("img_a", "hash", "thumbnail"),  # its job will end both
        asking("img_b", "hash"),  # nothing will end its thumbnail
        asking("img_c", "hash", "thumbnail"),  # finished below, its features left pending
        asking("img_d", "hash", "thumbnail"),  # done
        asking("img_e", "hash", "thumbnail"),  # reprocessed after finishing
    ]
    catalog.images.add_images(images, asks, FakeKeeper())
    catalog.events.mark_jobs_finished([asks[2]["id"], asks[3]["id"], asks[4]["id"]])
    catalog.images.finish_features(
        "img_d", [done("hash"), done("thumbnail")], [], FakeKeeper(), "d"
    )
    catalog.images.finish_features(
        "img_e", [done("hash"), done("thumbnail")], [], FakeKeeper(), "e"
    )
    reprocess = cloud_event(
        EventType.IMAGE_REPROCESS_REQUESTED, "img_e", {"id": "img_e", "features": ["hash"]}
    )
    catalog.images.request_features("img_e", pending("hash"), reprocess)
    catalog.images.start_features("img_c", ["hash"])
    assert list(catalog.images.stranded_features()) == [
        ("img_b", ["thumbnail"]),
        ("img_c", ["hash", "thumbnail"]),
    ]


# -- status counts ---------------------------------------------------------------------------


def test_status_counts(catalog: Stores) -> None:
    assert catalog.images.status_counts() == dict.fromkeys(ImageStatus, 0)
    add(catalog, *(new_image(f"img_{n}") for n in range(5)))
    catalog.images.start_features("img_1", ["hash"])
    catalog.images.finish_features(
        "img_2", [done("hash"), done("thumbnail")], [], FakeKeeper(), "2"
    )
    catalog.images.finish_features(
        "img_3", [done("hash"), failed("thumbnail")], [], FakeKeeper(), "3"
    )
    assert catalog.images.status_counts() == {
        ImageStatus.PENDING: 2,
        ImageStatus.PROCESSING: 1,
        ImageStatus.DONE: 1,
        ImageStatus.FAILED: 1,
    }


def test_an_uploads_first_copy_is_found_by_one_index_lookup(tmp_path: Path) -> None:
    """Not a walk of the collection's images: with only the bytes' own index, SQLite chose the
    collection's, and each upload of new bytes grew with the collection."""
    catalog = open_stores(f"sqlite:///{tmp_path / 'catalog.db'}")
    with catalog.db.read() as conn:
        compiled = FIRST_COPY.compile(conn)
        values = {"sha256": sha("bytes"), "collection": "default"}
        params = compiled.construct_params(values)
        plan = conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}",
            tuple(params[name] for name in compiled.positiontup or ()),
        ).all()
    catalog.close()
    assert [row[3] for row in plan] == [
        "SEARCH images USING COVERING INDEX ix_images_sha256_collection_id "
        "(sha256=? AND collection=?)"
    ]
