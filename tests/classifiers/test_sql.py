"""SQLClassifierStore on SQLite and PostgreSQL: classifiers, examples, numbered versions trained
once, what deleting a classifier takes with it, and the collection each belongs to."""

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
    # img_0..3 in the default collection, img_4 and img_5 in another.
    opened.images.add_images(
        [
            NewImage(f"img_{n}", f"{n:064d}", None, "image/png", "PNG", 1, 1, 1, {}, [], collection)
            for n, collection in enumerate(["default"] * 4 + ["beta"] * 2)
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


def test_what_uploads_rely_on_renews_the_classifiers_mark(catalog: Stores) -> None:
    """`run_on_upload` answers the names with the mark they were read under; every change to
    what uploads get renews it (it is what a process keeping the names checks), and only that."""
    store = catalog.classifiers
    store.create("cls_1", "shop", "multiclass", "", "default")
    names, made = store.run_on_upload("default")
    assert names == []
    store.update("cls_1", description="garments")
    assert store.run_on_upload("default") == ([], made)
    store.update("cls_1", published_version=1)
    names, published = store.run_on_upload("default")
    assert names == [] and published != made  # published, not yet attached to uploads
    store.update("cls_1", run_on_upload=True)
    names, attached = store.run_on_upload("default")
    assert names == ["shop"] and attached not in (made, published)
    assert store.run_on_upload("beta") == ([], attached)
    store.delete("cls_1")
    names, deleted = store.run_on_upload("default")
    assert names == [] and deleted not in (made, published, attached)


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


def predict(catalog: Stores, image_id: str, classifier_id: str, label: str) -> None:
    """Store a `custom:shop` prediction of `label` on the image, as the pipeline would."""
    prediction = {
        "model": {"name": "custom:shop", "version": "1"},
        "width": 1,
        "height": 1,
        "classifier": {"id": classifier_id, "name": "shop", "version": 1},
        "kind": "multiclass",
        "threshold": 0.5,
        "labels": [{"name": label, "confidence": 0.9}],
        "predicted": [label],
    }
    catalog.images.request_features(
        image_id,
        [FeatureState("custom:shop", FeatureStatus.PENDING, "custom", "1")],
        cloud_event(EventType.IMAGE_REPROCESS_REQUESTED, image_id, {"id": image_id}),
    )
    catalog.images.finish_features(
        image_id,
        [FeatureState("custom:shop", FeatureStatus.DONE, "custom", "1", prediction)],
        [],
        NoBlobs(),
        f"{image_id}:done",
    )


def labelled(catalog: Stores, label: str) -> list[str]:
    return [hit.image_id for hit in catalog.text.search(SearchQuery(labels=(label,))).hits]


def test_deleting_a_classifier_takes_its_predictions_out_of_search(catalog: Stores) -> None:
    store = catalog.classifiers
    store.create("cls_1", "shop", "multiclass", "", "default")
    predict(catalog, "img_0", "cls_1", "dress")
    assert labelled(catalog, "dress") == ["img_0"]
    before = catalog.images.image_version("img_0")
    deleted = store.delete("cls_1")
    assert deleted is not None and deleted.name == "shop"
    assert store.get("cls_1") is None
    assert catalog.text.search(SearchQuery(labels=("dress",))).hits == []
    record = catalog.images.get_image("img_0")
    assert record is not None and "custom:shop" not in record.features
    # The image changed: an answer kept for it (`api.image_answers`) is no longer served.
    after = catalog.images.image_version("img_0")
    assert before is not None and after is not None and after.updated_at > before.updated_at


# -- collections -------------------------------------------------------------------------------


def test_names_are_unique_within_a_collection_and_found_in_it(catalog: Stores) -> None:
    store = catalog.classifiers
    mine = store.create("cls_1", "shop", "multiclass", "", "default")
    theirs = store.create("cls_2", "shop", "multilabel", "", "beta")
    with pytest.raises(ClassifierExists):
        store.create("cls_3", "shop", "multiclass", "", "beta")

    assert store.by_name("shop", "default") == mine
    assert store.by_name("shop", "beta") == theirs and theirs.collection == "beta"
    assert store.by_name("shop", "gamma") is None
    assert store.get("cls_2", "default") is None
    assert store.get("cls_2", "beta") == theirs == store.get("cls_2")
    assert [r.id for r in store.list_classifiers("beta")] == ["cls_2"]
    assert [r.id for r in store.list_classifiers()] == ["cls_2", "cls_1"]

    store.update("cls_2", published_version=1, run_on_upload=True)
    assert store.published("default") == {}
    assert store.published("beta")["shop"].id == "cls_2"


def test_examples_are_images_of_the_classifiers_collection(catalog: Stores) -> None:
    catalog.classifiers.create("cls_1", "shop", "multiclass", "", "beta")
    added = catalog.classifiers.add_examples(
        "cls_1",
        [Example("img_0", ("dress",)), Example("img_4", ("dress",))],
        single_label=True,
    )
    assert added == [False, True]
    assert catalog.classifiers.examples("cls_1") == [Example("img_4", ("dress",))]


def test_deleting_a_classifier_keeps_the_predictions_of_its_namesake(catalog: Stores) -> None:
    catalog.classifiers.create("cls_1", "shop", "multiclass", "", "default")
    catalog.classifiers.create("cls_2", "shop", "multiclass", "", "beta")
    predict(catalog, "img_0", "cls_1", "dress")
    predict(catalog, "img_4", "cls_2", "shirt")

    catalog.classifiers.delete("cls_1")

    assert labelled(catalog, "dress") == []
    assert labelled(catalog, "shirt") == ["img_4"]
    record = catalog.images.get_image("img_4")
    assert record is not None and "custom:shop" in record.features
