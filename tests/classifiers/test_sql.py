"""SQLClassifierStore on SQLite and PostgreSQL: classifiers, examples, numbered versions trained
once, and what deleting a classifier takes with it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sightline.classifiers.store import Example, VersionStatus
from sightline.errors import ClassifierExists
from sightline.events import EventType, cloud_event
from sightline.search.text import SearchQuery
from sightline.storage.records import FeatureState, FeatureStatus, NewImage
from sightline.stores import Stores, open_stores


class NoBlobs:
    def ensure(self, sha256: str) -> None: ...

    def discard(self, sha256: str) -> None: ...


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Stores]:
    opened = open_stores(catalog_url)
    assert isinstance(opened, Stores)
    opened.images.add_images(
        [
            NewImage(f"img_{n}", f"{n:064d}", None, "image/png", "PNG", 1, 1, 1, {}, [])
            for n in range(4)
        ],
        [],
        NoBlobs(),
    )
    yield opened
    opened.close()


def requested(name: str) -> dict[str, Any]:
    return cloud_event(EventType.CLASSIFIER_TRAINING_REQUESTED, name, {"id": name})


def new_version(catalog: Stores, classifier_id: str = "cls_1") -> int:
    version = catalog.classifiers.add_version(
        classifier_id,
        threshold=0.5,
        labels=["a", "b"],
        examples=[Example("img_0", ("a",))],
        embedding_version="1",
        event=requested(classifier_id),
    )
    assert version.status is VersionStatus.TRAINING
    return version.number


def test_classifiers_are_created_read_updated_and_unique_by_name(catalog: Stores) -> None:
    store = catalog.classifiers
    created = store.create("cls_1", "shop", "multiclass", "clothes", "default")
    assert store.get("cls_1") == created
    assert store.by_name("shop", "default") == created
    assert store.get("nope") is None and store.by_name("nope", "default") is None
    with pytest.raises(ClassifierExists):
        store.create("cls_2", "shop", "multiclass", "", "default")
    store.create("cls_3", "birds", "multilabel", "", "default")
    assert [record.name for record in store.list_classifiers()] == ["birds", "shop"]

    updated = store.update("cls_1", description="garments", run_on_upload=True)
    assert updated is not None and updated.description == "garments" and updated.run_on_upload
    assert store.update("nope", description="x") is None
    assert store.published("default") == {}
    store.update("cls_1", published_version=1)
    assert store.published("default")["shop"].version == 1


def test_examples_are_labelled_replaced_and_removed(catalog: Stores) -> None:
    store = catalog.classifiers
    store.create("cls_1", "shop", "multiclass", "", "default")
    added = store.add_examples(
        "cls_1",
        [Example("img_0", ("dress",)), Example("img_1", ("shirt",)), Example("gone", ("x",))],
        single_label=True,
    )
    assert added == [True, True, False]
    store.add_examples("cls_1", [Example("img_0", ("shirt",))], single_label=True)
    assert store.examples("cls_1") == [Example("img_0", ("shirt",)), Example("img_1", ("shirt",))]
    record = store.get("cls_1")
    assert record is not None and record.label_counts == {"shirt": 2}
    assert store.examples("cls_1", after_image_id="img_0", limit=1) == [
        Example("img_1", ("shirt",))
    ]
    assert store.remove_examples("cls_1", ["img_0"], None) == 1
    assert store.examples("cls_1", label="shirt") == [Example("img_1", ("shirt",))]


def test_versions_are_numbered_in_order_and_finish_once(catalog: Stores) -> None:
    store = catalog.classifiers
    store.create("cls_1", "shop", "multiclass", "", "default")
    assert [new_version(catalog) for _ in range(2)] == [1, 2]
    finished = cloud_event(EventType.CLASSIFIER_TRAINED, "cls_1", {"id": "cls_1"})
    ready = store.finish_version(
        "cls_1", 2, metrics={"f1": 0.9}, head=b"head", error=None, seconds=1.5, event=finished
    )
    assert ready is not None and ready.status is VersionStatus.READY and ready.head == b"head"
    again = store.finish_version(
        "cls_1", 2, metrics=None, head=None, error={"code": "Late"}, seconds=9, event=finished
    )
    assert again == ready
    assert [v.number for v in store.versions("cls_1")] == [2, 1]
    assert store.version_examples("cls_1", 1) == [Example("img_0", ("a",))]
    types = [stored.envelope["type"] for stored in catalog.events.events_after(0, 100)]
    assert types.count(EventType.CLASSIFIER_TRAINED) == 1


def test_versions_requested_together_get_distinct_numbers(catalog: Stores) -> None:
    catalog.classifiers.create("cls_1", "shop", "multiclass", "", "default")
    start = threading.Barrier(6)

    def request() -> int:
        start.wait()
        return new_version(catalog)

    with ThreadPoolExecutor(6) as pool:
        numbers = [future.result(timeout=60) for future in [pool.submit(request) for _ in range(6)]]
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]


def test_deleting_a_classifier_takes_its_predictions_out_of_search(catalog: Stores) -> None:
    store = catalog.classifiers
    store.create("cls_1", "shop", "multiclass", "", "default")
    prediction = {
        "model": {"name": "custom:shop", "version": "1"},
        "width": 1,
        "height": 1,
        "classifier": {"id": "cls_1", "name": "shop", "version": 1},
        "kind": "multiclass",
        "threshold": 0.5,
        "labels": [{"name": "dress", "confidence": 0.9}],
        "predicted": ["dress"],
    }
    catalog.images.request_features(
        "img_0",
        [FeatureState("custom:shop", FeatureStatus.PENDING, "custom", "1")],
        cloud_event(EventType.IMAGE_REPROCESS_REQUESTED, "img_0", {"id": "img_0"}),
    )
    catalog.images.finish_features(
        "img_0",
        [FeatureState("custom:shop", FeatureStatus.DONE, "custom", "1", prediction)],
        [],
        NoBlobs(),
        "img_0:done",
    )
    assert [hit.image_id for hit in catalog.text.search(SearchQuery(labels=("dress",))).hits] == [
        "img_0"
    ]
    deleted = store.delete("cls_1")
    assert deleted is not None and deleted.name == "shop"
    assert store.get("cls_1") is None
    assert catalog.text.search(SearchQuery(labels=("dress",))).hits == []
    record = catalog.images.get_image("img_0")
    assert record is not None and "custom:shop" not in record.features
