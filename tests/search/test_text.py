"""Full-text search in the catalog, on SQLite (FTS5) and PostgreSQL (tsvector): documents from
the words results declare, query syntax, ranking, filters, pages, and the migrations that index
images analysed before they existed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, update

from sightline import stores
from sightline.classifiers.features import index_entries
from sightline.errors import InvalidParameter, InvalidQuery
from sightline.events import EventType, cloud_event
from sightline.indexing import Indexer
from sightline.models.imagenet_labels import read_synonyms, write_labels
from sightline.search.documents import with_synonyms
from sightline.search.text import (
    FieldFilter,
    SearchHit,
    SearchPage,
    SearchQuery,
    Strategy,
    _decode_cursor,
    _encode_cursor,
    build_document,
    parse_where,
    rebuild_documents,
    refresh_document,
    search_images,
)
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.records import FeatureState, FeatureStatus, ImageStatus, NewImage
from sightline.stores import Stores, catalog_indexer
from support.strategies import any_text, texts

JSON = dict[str, Any]
# The fields every model result starts with: the results below are whole, as analyzers store them.
HEADER: JSON = {"model": {"name": "net", "version": "1"}, "width": 64, "height": 48}
BOX: JSON = {"x": 0, "y": 0, "w": 10, "h": 10}
TABBY: JSON = {
    **HEADER,
    "tags": [
        {
            "name": "domestic cat",
            "confidence": 0.93,
            "source": "imagenet",
            "broader": ["cat", "animal"],
        },
        {
            "name": "tiger cat",
            "confidence": 0.38,
            "source": "imagenet",
            "broader": ["domestic cat", "cat", "animal"],
        },
    ],
    "classes": [
        {"name": "tiger cat", "wnid": "n02123159", "confidence": 0.38},
        {"name": "tabby cat", "wnid": "n02123045", "confidence": 0.17},
        {"name": "web site", "wnid": "n06359193", "confidence": 0.01},
    ],
}
PUPPY: JSON = {
    **HEADER,
    "tags": [
        {"name": "dog", "confidence": 0.9, "source": "imagenet", "broader": ["animal"]},
    ],
    "classes": [{"name": "golden retriever", "wnid": "n02099601", "confidence": 0.8}],
}


class Keeper:
    def ensure(self, sha256: str) -> None: ...

    def discard(self, sha256: str) -> None: ...


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Stores]:
    backend = Stores.from_url(catalog_url)
    yield backend
    backend.close()


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Iterator[Stores]:
    backend = Stores.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    yield backend
    backend.close()


def tags(*words: tuple[str, float], classes: list[JSON] | None = None) -> JSON:
    scored = [{"name": w, "confidence": c, "source": "imagenet", "broader": []} for w, c in words]
    return {**HEADER, "tags": scored, "classes": classes or []}


def lines(*texts: str) -> JSON:
    found = [
        {"text": text, "confidence": 0.99, "polygon": [], "box": BOX, "words": []} for text in texts
    ]
    orientation = {"angle": 0, "confidence": 1.0}
    return {**HEADER, "orientation": orientation, "text": "\n".join(texts), "lines": found}


def labels(*scored: tuple[str, float]) -> JSON:
    """A user classifier's (`model:*`) result."""
    return {**HEADER, "labels": [{"name": name, "confidence": c} for name, c in scored]}


def custom(*predicted: str, confidence: float = 0.9) -> JSON:
    return {
        **HEADER,
        "classifier": {"id": "cls_1", "name": "shop", "version": 1},
        "kind": "multiclass",
        "threshold": 0.5,
        "labels": [{"name": name, "confidence": confidence} for name in predicted],
        "predicted": list(predicted),
    }


def add(
    catalog: Stores,
    image_id: str,
    results: dict[str, JSON | None] | None = None,
    **image: Any,
) -> None:
    """An image whose features finished with these results (None: the feature failed)."""
    results = results or {}
    fields: dict[str, Any] = {
        "filename": None,
        "content_type": "image/png",
        "format": "PNG",
        "size": 1000,
        "width": 64,
        "height": 48,
    }
    fields.update(image)
    pending = [FeatureState(name, FeatureStatus.PENDING, name, "1") for name in results]
    created = cloud_event(EventType.IMAGE_CREATED, image_id, {"id": image_id})
    catalog.images.add_images(
        [NewImage(id=image_id, sha256=image_id, client_metadata={}, features=pending, **fields)],
        [created],
        Keeper(),
    )
    if results:
        finish(catalog, image_id, results)


def finish(catalog: Stores, image_id: str, results: dict[str, JSON | None]) -> None:
    outcomes = [
        FeatureState(name, FeatureStatus.DONE, name, "1", result)
        if result is not None
        else FeatureState(name, FeatureStatus.FAILED, name, "1", None, {"code": "Boom"})
        for name, result in results.items()
    ]
    catalog.images.finish_features(
        image_id, outcomes, [], Keeper(), f"evt-{image_id}-{len(outcomes)}"
    )


def found(catalog: Stores, text: str | None = None, **query: Any) -> list[str]:
    with catalog.db.read() as conn:
        page = search_images(conn, SearchQuery(text=text, limit=100, **query))
    return [hit.image_id for hit in page.hits]


# -- documents -------------------------------------------------------------------------------


def test_documents_hold_the_words_of_every_searchable_result() -> None:
    objects = [{"label": "car", "confidence": 0.91}, {"label": "bicycle", "confidence": 0.3}]
    document = build_document(
        "claim-17.jpg",
        {
            "tags": TABBY,
            "read": lines("Policy Number:", "POL-2024-118734"),
            "custom:shop": {
                **custom("dress"),
                "labels": [
                    {"name": "dress", "confidence": 0.9},
                    {"name": "shirt", "confidence": 0.08},
                ],
            },
            "model:birds": labels(("robin", 0.83), ("wren", 0.06)),
            "objects": {
                "width": 64,
                "height": 48,
                "detectors": [
                    {
                        "model": {"name": "pets", "version": "1"},
                        "objects": [{**found, "box": BOX} for found in objects],
                    }
                ],
            },
            "embedding": {**HEADER, "dimensions": 2, "vector": [0.5, 0.5], "normalized": True},
            # A result stored by older code that no longer fits its model adds nothing.
            "model:old": {"labels": [{"name": "heron", "confidence": 0.9}]},
        },
        index_entries,
    )
    assert document.labels.splitlines() == ["dress", "robin", "car"]
    assert document.tags.splitlines() == ["domestic cat", "cat", "animal"]
    # Less sure words apart; "web site" (0.01) is noise.
    assert document.weak_tags.splitlines() == ["tiger cat", "tabby cat"]
    assert document.text == "Policy Number:\nPOL-2024-118734"
    assert document.filename == "claim-17.jpg"


# -- what is found ---------------------------------------------------------------------------


def test_a_tabby_is_found_by_its_class_and_every_broader_word(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": TABBY})
    add(catalog, "img_02", {"tags": PUPPY})
    assert found(catalog, "cat") == ["img_01"]
    assert found(catalog, "tabby") == ["img_01"]
    assert found(catalog, '"domestic cat"') == ["img_01"]
    assert sorted(found(catalog, "animal")) == ["img_01", "img_02"]
    assert found(catalog, "golden retriever") == ["img_02"]
    assert found(catalog, "web") == []


def test_case_accents_and_word_endings_do_not_matter(catalog: Stores) -> None:
    add(catalog, "img_01", {"custom:shop": custom("dress"), "read": lines("Café CRÈME")})
    assert found(catalog, "Dresses") == ["img_01"]
    assert found(catalog, "cafe creme") == ["img_01"]


def test_policy_numbers_and_hud_values_are_found_as_written(catalog: Stores) -> None:
    add(catalog, "img_01", {"read": lines("Policy Number:", "POL-2024-118734")})
    add(catalog, "img_02", {"read": lines("POL-2024-118735", "HP 87/100", "SCORE 12,450")})
    assert found(catalog, "POL-2024-118734") == ["img_01"]
    assert found(catalog, "pol-2024-118735") == ["img_02"]
    assert sorted(found(catalog, "POL-2024")) == ["img_01", "img_02"]
    assert found(catalog, "87/100") == ["img_02"]
    assert found(catalog, "87/99") == []
    assert found(catalog, "12,450") == ["img_02"]


def test_every_word_must_match_and_a_quoted_phrase_keeps_its_order(catalog: Stores) -> None:
    add(catalog, "img_01", {"read": lines("a red dress")})
    add(catalog, "img_02", {"read": lines("a dress, red")})
    add(catalog, "img_03", {"read": lines("a red shirt")})
    assert sorted(found(catalog, "red dress")) == ["img_01", "img_02"]
    assert found(catalog, '"red dress"') == ["img_01"]
    assert found(catalog, 'shirt "a red"') == ["img_03"]


def test_labels_tags_and_text_are_all_searched(catalog: Stores) -> None:
    add(catalog, "img_01", {"custom:shop": custom("trousers")})
    add(catalog, "img_02", {"model:birds": labels(("robin", 0.8))})
    add(catalog, "img_03", {"read": lines("ACME trousers sale")})
    add(catalog, "img_04", filename="trousers-blue.jpg")
    assert sorted(found(catalog, "trousers")) == ["img_01", "img_03", "img_04"]
    assert found(catalog, "robin") == ["img_02"]


def page_of(catalog: Stores, text: str, **query: Any) -> SearchPage:
    with catalog.db.read() as conn:
        return search_images(conn, SearchQuery(text=text, **query))


def test_stop_words_are_ignored_unless_quoted_or_all_there_is(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": tags(("flower", 0.9), ("building", 0.3))})
    add(catalog, "img_02", {"tags": tags(("cat", 0.9))}, filename="photo.jpg")
    add(catalog, "img_03", {"read": lines("The Who live at the Apollo")})
    found_flower = page_of(catalog, "a flower")
    assert [hit.image_id for hit in found_flower.hits] == ["img_01"]
    assert found_flower.ignored_words == ("a",)
    assert found_flower.strategy is Strategy.ALL_WORDS
    assert found(catalog, "The building") == ["img_01"]
    assert found(catalog, "photo of a cat") == ["img_02"]
    assert page_of(catalog, "photo OF a cat").ignored_words == ("OF", "a")
    # Nothing but stop words: they are what is searched for.
    only = page_of(catalog, "the who")
    assert [hit.image_id for hit in only.hits] == ["img_03"] and only.ignored_words == ()
    # A quoted phrase is searched as written, stop words and all.
    assert found(catalog, '"at the apollo"') == ["img_03"]
    assert found(catalog, '"at a apollo"') == []


def test_when_no_image_has_every_word_more_matched_words_rank_first(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": tags(("cat", 0.9))})
    add(catalog, "img_02", {"tags": tags(("cat", 0.9), ("sofa", 0.9))})
    add(catalog, "img_03", {"tags": tags(("sofa", 0.9))})
    add(catalog, "img_04", {"tags": tags(("dog", 0.9))})
    every = page_of(catalog, "cat sofa")
    assert [hit.image_id for hit in every.hits] == ["img_02"]
    assert (every.strategy, every.total) == (Strategy.ALL_WORDS, 1)
    # No image is a red cat on a sofa: those with two of the words come first.
    fallback = page_of(catalog, "red cat on a sofa")
    assert fallback.strategy is Strategy.ANY_WORDS and fallback.total == 3
    assert fallback.ignored_words == ("on", "a")
    assert [hit.image_id for hit in fallback.hits][0] == "img_02"
    assert sorted(hit.image_id for hit in fallback.hits[1:]) == ["img_01", "img_03"]
    scores = [hit.score or 0.0 for hit in fallback.hits]
    assert scores[0] >= 2 > scores[1] >= 1 and scores == sorted(scores, reverse=True)
    nothing = page_of(catalog, "red car")
    assert (nothing.hits, nothing.total, nothing.strategy) == ([], 0, Strategy.ANY_WORDS)
    # One word: no other strategy to try.
    assert page_of(catalog, "car").strategy is Strategy.ALL_WORDS


def test_filters_apply_to_any_word_matching(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": tags(("cat", 0.9))}, width=100)
    add(catalog, "img_02", {"tags": tags(("sofa", 0.9))}, width=300)
    add(catalog, "img_03", {"tags": tags(("sofa", 0.9))}, width=300, collection="other")
    narrowed = page_of(catalog, "cat sofa", min_width=200, collection="default")
    assert [hit.image_id for hit in narrowed.hits] == ["img_02"]
    assert (narrowed.strategy, narrowed.total) == (Strategy.ANY_WORDS, 1)


def test_policy_numbers_fall_back_to_any_word_but_stay_exact(catalog: Stores) -> None:
    add(catalog, "img_01", {"read": lines("Policy Number:", "POL-2024-118734", "87/100")})
    add(catalog, "img_02", {"read": lines("POL-2024-118735")})
    assert found(catalog, "POL-2024-118734 87/100") == ["img_01"]
    fallback = page_of(catalog, "POL-2024-118734 87/99")
    assert [hit.image_id for hit in fallback.hits] == ["img_01"]
    assert fallback.strategy is Strategy.ANY_WORDS and not fallback.plain
    assert found(catalog, "POL-2024-118736 87/99") == []


# -- ranking ---------------------------------------------------------------------------------


def test_a_confident_tag_outranks_an_unsure_one(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": tags(("cat", 0.3), ("animal", 0.4), ("dog", 0.35))})
    add(catalog, "img_02", {"tags": tags(("cat", 0.95), ("animal", 0.97), ("tabby", 0.6))})
    add(catalog, "img_03", {"tags": tags(("car", 0.9))})
    with catalog.db.read() as conn:
        page = search_images(conn, SearchQuery(text="cat"))
    assert [hit.image_id for hit in page.hits] == ["img_02", "img_01"]
    scores = [hit.score for hit in page.hits]
    assert all(score is not None and score > 0 for score in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_labels_outrank_sure_tags_then_text_then_weak_tags(catalog: Stores) -> None:
    add(catalog, "img_01", {"read": lines("dress")})
    weak_class = {"name": "dress", "wnid": "n03236735", "confidence": 0.15}
    add(catalog, "img_02", {"tags": tags(classes=[weak_class])})
    add(catalog, "img_03", {"tags": tags(("dress", 0.9))})
    add(catalog, "img_04", {"custom:shop": custom("dress")})
    add(catalog, "img_05", {"tags": tags(("shirt", 0.9))})
    assert found(catalog, "dress") == ["img_04", "img_03", "img_01", "img_02"]


# -- query syntax ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "cat OR dog",
        "NEAR(cat dog)",
        "cat*",
        "tags:cat",
        "tags : cat",
        "{tags}: cat",
        "^cat",
        "(cat",
        "cat)",
        "-cat",
        "AND",
        "cat AND",
        "NOT cat",
        "'cat'",
        'cat"dog"',
        '""cat',
        "c\\at",
        "cat\x00",
        "kočka 猫",
    ],
)
def test_no_query_can_break_the_fts_syntax(catalog: Stores, query: str) -> None:
    add(catalog, "img_01", {"tags": TABBY})
    assert set(found(catalog, query)) <= {"img_01"}


def test_operators_are_searched_as_words(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": tags(("cat", 0.9))})
    add(catalog, "img_02", {"tags": tags(("dog", 0.9))})
    # Not an OR: "or" is a stop word, and no image has both words, so either one will do.
    assert sorted(found(catalog, "cat OR dog")) == ["img_01", "img_02"]
    assert sorted(found(catalog, "cat NEAR dog")) == ["img_01", "img_02"]
    assert found(catalog, "cat AND") == ["img_01"]
    assert found(catalog, "tags:cat") == []  # the phrase "tags cat"
    assert found(catalog, "cat*") == ["img_01"]
    assert found(catalog, "-cat") == ["img_01"]


@pytest.mark.parametrize(
    "query", ['"cat', 'cat "dog', "- / & !", "x" * 1001, " ".join(["cat"] * 33)]
)
def test_queries_that_cannot_be_searched_are_refused(catalog: Stores, query: str) -> None:
    with pytest.raises(InvalidQuery):
        found(catalog, query)


def test_a_blank_query_lists_newest_first(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": TABBY})
    add(catalog, "img_02")
    with catalog.db.read() as conn:
        page = search_images(conn, SearchQuery(text="  "))
    assert [(hit.image_id, hit.score) for hit in page.hits] == [("img_02", None), ("img_01", None)]


# -- keeping documents current ---------------------------------------------------------------


def test_new_results_replace_the_old_words(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": tags(("cat", 0.9)), "read": lines("hello")})
    finish(catalog, "img_01", {"tags": tags(("dog", 0.9))})
    assert found(catalog, "cat") == []
    assert found(catalog, "dog") == ["img_01"]
    assert found(catalog, "hello") == ["img_01"]
    finish(catalog, "img_01", {"read": None})  # failed: its old text is gone
    assert found(catalog, "hello") == []


def documents(catalog: Stores) -> int:
    with catalog.db.read() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM image_text").scalar_one())


def test_a_deleted_images_document_goes(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": tags(("dog", 0.9))})
    add(catalog, "img_02", {"tags": tags(("cat", 0.9))})
    catalog.images.delete_image(
        "img_02", cloud_event(EventType.IMAGE_DELETED, "img_02", {}), Keeper()
    )
    assert documents(catalog) == 1
    assert found(catalog, "cat") == []


def test_a_freed_sqlite_rowid_brings_no_words(sqlite_catalog: Stores) -> None:
    catalog = sqlite_catalog
    add(catalog, "img_01", {"tags": tags(("dog", 0.9))})
    add(catalog, "img_02", {"tags": tags(("cat", 0.9))})
    rowid = "SELECT rowid FROM images WHERE id = ?"
    with catalog.db.read() as conn:
        freed = conn.exec_driver_sql(rowid, ("img_02",)).scalar()
    catalog.images.delete_image(
        "img_02", cloud_event(EventType.IMAGE_DELETED, "img_02", {}), Keeper()
    )
    assert documents(catalog) == 1
    add(catalog, "img_03")
    with catalog.db.read() as conn:
        assert conn.exec_driver_sql(rowid, ("img_03",)).scalar() == freed  # SQLite reuses it
    assert found(catalog, "cat") == []
    assert found(catalog, "dog") == ["img_01"]


def test_deleting_a_classifier_unindexes_its_labels(catalog: Stores) -> None:
    catalog.classifiers.create("cls_1", "shop", "multiclass", "", "default")
    add(catalog, "img_01", {"custom:shop": custom("dress"), "read": lines("summer sale")})
    assert found(catalog, labels=("dress",)) == ["img_01"]
    catalog.classifiers.delete("cls_1")
    assert found(catalog, "dress") == []
    assert found(catalog, "summer") == ["img_01"]


def test_refresh_and_rebuild_write_documents_from_the_stored_results(
    catalog: Stores,
) -> None:
    add(catalog, "img_01", {"tags": tags(("cat", 0.9))})
    add(catalog, "img_02", {"read": lines("POL-2024-000001")})
    with catalog.db.write() as conn:
        conn.execute(
            update(t.feature_results)
            .where(t.feature_results.c.image_id == "img_01")
            .values(result=tags(("lion", 0.9)))
        )
        refresh_document(conn, "img_01", index_entries)
    assert found(catalog, "lion") == ["img_01"]
    with catalog.db.write() as conn:
        conn.exec_driver_sql("DELETE FROM image_text")
        assert rebuild_documents(conn, index_entries, batch=1) == 2
    assert found(catalog, "lion") == ["img_01"]
    assert found(catalog, "POL-2024-000001") == ["img_02"]


# SQLite has one writer: a rebuild there cannot start while a worker's transaction is open.
@pytest.mark.parametrize("catalog_url", ["postgresql"], indirect=True)
def test_a_rebuild_keeps_the_document_a_worker_writes_meanwhile(catalog: Stores) -> None:
    """A migration's rebuild under running workers: a worker has stored an image's first
    result and document but not committed when the rebuild starts. The rebuild must wait for
    it, not overwrite it afterwards with a document made from what it read before (it did:
    the image was no longer found by its tag)."""
    add(catalog, "img_01", {"tags": tags(("cat", 0.9))})
    add(catalog, "img_02")
    with catalog.db.write() as conn:
        conn.exec_driver_sql("DELETE FROM image_text WHERE image_id = 'img_02'")

    def rebuild_all() -> None:
        with catalog.db.write() as conn:
            rebuild_documents(conn, index_entries)

    rebuild = threading.Thread(target=rebuild_all)
    with catalog.db.write() as worker:
        worker.execute(
            insert(t.feature_results).values(
                image_id="img_02",
                feature="tags",
                status="done",
                analyzer="tags",
                version="1",
                result=tags(("lion", 0.9)),
                updated_at=datetime.now(UTC),
            )
        )
        refresh_document(worker, "img_02", index_entries)
        rebuild.start()
        time.sleep(1.0)  # the rebuild reaches the rows the worker holds, or its lock
    rebuild.join(timeout=30)
    assert found(catalog, "lion") == ["img_02"]
    assert found(catalog, "cat") == ["img_01"]


def test_the_migration_indexes_images_analysed_before_it(empty_catalog_url: str) -> None:
    db = Database(empty_catalog_url)
    stores.migrate(db, "0002")
    now = datetime.now(UTC)
    with db.write() as conn:
        conn.execute(
            insert(t.images),
            [
                {
                    "id": image_id,
                    "sha256": image_id,
                    "filename": f"{image_id}.png",
                    "content_type": "image/png",
                    "format": "PNG",
                    "size": 10,
                    "width": 1,
                    "height": 1,
                    "status": "done",
                    "client_metadata": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for image_id in ("img_01", "img_02")
            ],
        )
        conn.execute(
            insert(t.feature_results),
            [
                {
                    "image_id": "img_01",
                    "feature": "tags",
                    "status": "done",
                    "analyzer": "tags",
                    "version": "2",
                    "result": TABBY,
                    "updated_at": now,
                }
            ],
        )
    stores.migrate(db)
    catalog = Stores.on(db)
    try:
        assert found(catalog, "cat") == ["img_01"]
        assert found(catalog, "img_02") == ["img_02"]  # by file name
    finally:
        catalog.close()


# -- filters ---------------------------------------------------------------------------------


def test_tag_and_label_filters_match_words_in_that_column_only(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": TABBY, "custom:shop": custom("dress")})
    add(catalog, "img_02", {"tags": PUPPY, "read": lines("cat food")})
    add(catalog, "img_03", {"custom:shop": custom("shirt")})
    assert found(catalog, tags=("cat",)) == ["img_01"]
    assert found(catalog, tags=("animal",)) == ["img_02", "img_01"]
    assert found(catalog, tags=("golden retriever",)) == ["img_02"]
    assert found(catalog, labels=("dress",)) == ["img_01"]
    assert found(catalog, tags=("animal",), labels=("dress",)) == ["img_01"]
    assert found(catalog, "food", tags=("animal",)) == ["img_02"]
    assert found(catalog, "food", labels=("dress",)) == []
    with pytest.raises(InvalidParameter):
        found(catalog, tags=("--",))


def test_feature_value_filters(catalog: Stores) -> None:
    add(
        catalog,
        "img_01",
        {
            "image_type": {"type": "photo"},
            "quality": {"score": 0.9, "sharpness": {"blurry": False}},
        },
    )
    add(
        catalog,
        "img_02",
        {
            "image_type": {"type": "clip_art"},
            "quality": {"score": 0.4, "sharpness": {"blurry": True}},
        },
    )
    add(catalog, "img_03")

    def where(*expressions: str) -> list[str]:
        return found(catalog, where=tuple(parse_where(e) for e in expressions))

    assert where("image_type.type:photo") == ["img_01"]
    assert where("quality.sharpness.blurry:true") == ["img_02"]
    assert where("quality.sharpness.blurry:false") == ["img_01"]
    assert where("quality.score>=0.5") == ["img_01"]
    assert where("quality.score<0.5") == ["img_02"]
    assert where("quality.score:0.4") == ["img_02"]
    assert where("quality.score>0.3", "image_type.type:clip_art") == ["img_02"]
    assert where("image_type.type:painting") == []
    assert where("tags.type:photo") == []


def test_image_filters(catalog: Stores) -> None:
    add(catalog, "img_01", content_type="image/jpeg", size=5_000, width=4000, height=3000)
    add(catalog, "img_02", {"tags": None}, size=50_000, width=640, height=480)
    assert found(catalog, content_type="image/jpeg") == ["img_01"]
    assert found(catalog, status=ImageStatus.FAILED) == ["img_02"]
    assert found(catalog, min_width=1000) == ["img_01"]
    assert found(catalog, max_width=1000, max_height=480) == ["img_02"]
    assert found(catalog, min_height=481) == ["img_01"]
    assert found(catalog, min_size=10_000) == ["img_02"]
    assert found(catalog, max_size=4_999) == []
    later = datetime.now(UTC) + timedelta(hours=1)
    assert found(catalog, uploaded_before=later) == ["img_02", "img_01"]
    assert found(catalog, uploaded_after=later) == []


def test_a_search_within_a_collection_finds_only_its_images(catalog: Stores) -> None:
    add(catalog, "img_01", {"tags": TABBY}, collection="alpha", filename="alpha-cat.png")
    add(catalog, "img_02", {"tags": TABBY}, collection="beta", filename="beta-cat.png")
    add(catalog, "img_03", {"tags": PUPPY}, collection="beta")
    assert found(catalog, "cat", collection="alpha") == ["img_01"]
    assert found(catalog, "beta", collection="alpha") == []
    assert found(catalog, collection="beta") == ["img_03", "img_02"]
    assert found(catalog, tags=("cat",), collection="beta") == ["img_02"]
    assert sorted(found(catalog, "cat")) == ["img_01", "img_02"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("image_type.type:photo", FieldFilter("image_type", ("type",), ":", "photo")),
        (
            "quality.sharpness.blurry:False",
            FieldFilter("quality", ("sharpness", "blurry"), ":", False),
        ),
        ("quality.score>=0.7", FieldFilter("quality", ("score",), ">=", 0.7)),
        ("faces.count<3", FieldFilter("faces", ("count",), "<", 3.0)),
        ("custom:shop.kind:multiclass", FieldFilter("custom:shop", ("kind",), ":", "multiclass")),
        ("color.name:light blue", FieldFilter("color", ("name",), ":", "light blue")),
    ],
)
def test_feature_value_filters_are_read(expression: str, expected: FieldFilter) -> None:
    assert parse_where(expression) == expected


@pytest.mark.parametrize(
    "expression", ["photo", "image_type:photo", "image_type.type:", "quality.score>=high", ".a:b"]
)
def test_unreadable_feature_value_filters_are_refused(expression: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_where(expression)


# -- pages -----------------------------------------------------------------------------------


def pages(catalog: Stores, query: SearchQuery) -> list[list[str]]:
    result = []
    with catalog.db.read() as conn:
        while True:
            page = search_images(conn, query)
            result.append([hit.image_id for hit in page.hits])
            if page.next_cursor is None:
                return result
            query = SearchQuery(text=query.text, limit=query.limit, cursor=page.next_cursor)


def test_ranked_pages_cover_every_match_once_in_rank_order(catalog: Stores) -> None:
    for n in range(23):
        # Repeated confidences make ties, which the image id breaks.
        add(catalog, f"img_{n:02d}", {"tags": tags(("cat", 0.2 + (n % 4) * 0.2), ("x", 0.5))})
    add(catalog, "img_99", {"tags": tags(("dog", 0.9))})
    everything = found(catalog, "cat")
    assert len(everything) == 23
    split = pages(catalog, SearchQuery(text="cat", limit=5))
    assert [len(page) for page in split] == [5, 5, 5, 5, 3]
    assert [image_id for page in split for image_id in page] == everything


def test_totals_count_every_page_and_cursors_keep_the_strategy(catalog: Stores) -> None:
    for n in range(12):
        words = [("cat", 0.3 + n * 0.05)] + ([("sofa", 0.9)] if n % 3 == 0 else [])
        add(catalog, f"img_{n:02d}", {"tags": tags(*words)})
    for n in range(12, 17):
        add(catalog, f"img_{n:02d}", {"tags": tags(("sofa", 0.6))})
    everything = found(catalog, "cats on sofas")
    assert len(everything) == 4
    # Both words on 4 images: every word it is, and pages hold the total.
    with catalog.db.read() as conn:
        first = search_images(conn, SearchQuery(text="cats on sofas", limit=3))
        assert (first.strategy, first.total) == (Strategy.ALL_WORDS, 4)
        second = search_images(
            conn, SearchQuery(text="cats on sofas", limit=3, cursor=first.next_cursor)
        )
        assert second.total == 4 and second.next_cursor is None
        assert [h.image_id for h in first.hits + second.hits] == everything
    # No image has "dog": any word, and page 2 continues the any-word ranking.
    whole = page_of(catalog, "dog cat sofa", limit=100)
    assert whole.strategy is Strategy.ANY_WORDS and whole.total == 17 == len(whole.hits)
    split: list[SearchHit] = []
    query = SearchQuery(text="dog cat sofa", limit=5)
    with catalog.db.read() as conn:
        while True:
            page = search_images(conn, query)
            assert (page.strategy, page.total) == (Strategy.ANY_WORDS, 17)
            split.extend(page.hits)
            if page.next_cursor is None:
                break
            query = SearchQuery(text="dog cat sofa", limit=5, cursor=page.next_cursor)
    assert [hit.image_id for hit in split] == [hit.image_id for hit in whole.hits]
    # The images with both words lead.
    assert sorted(hit.image_id for hit in split[:4]) == sorted(everything)
    # With a filter, the first page counts in its own query: the same total.
    filtered = page_of(catalog, "dog cat sofa", limit=5, min_width=1)
    assert (filtered.total, len(filtered.hits)) == (17, 5)
    assert page_of(catalog, "cat sofa", limit=2, min_width=1).total == 4


def test_listings_are_not_counted(catalog: Stores) -> None:
    for n in range(3):
        add(catalog, f"img_{n:02d}")
    page = search_images_of(catalog, SearchQuery(limit=2))
    assert (page.total, page.strategy, len(page.hits)) == (None, None, 2)


def search_images_of(catalog: Stores, query: SearchQuery) -> SearchPage:
    with catalog.db.read() as conn:
        return search_images(conn, query)


def test_listing_pages_are_newest_first(catalog: Stores) -> None:
    for n in range(7):
        add(catalog, f"img_{n:02d}")
    split = pages(catalog, SearchQuery(limit=3))
    assert split == [["img_06", "img_05", "img_04"], ["img_03", "img_02", "img_01"], ["img_00"]]


def test_a_cursor_must_come_from_the_same_kind_of_query(catalog: Stores) -> None:
    for n in range(3):
        add(catalog, f"img_{n:02d}", {"tags": tags(("cat", 0.9))})
    with catalog.db.read() as conn:
        ranked = search_images(conn, SearchQuery(text="cat", limit=1)).next_cursor
        listed = search_images(conn, SearchQuery(limit=1)).next_cursor
        assert ranked and listed
        for query in (
            SearchQuery(limit=1, cursor=ranked),
            SearchQuery(text="cat", limit=1, cursor=listed),
            SearchQuery(limit=1, cursor="not a cursor!"),
            SearchQuery(limit=1, cursor="WyJ4Il0x"),
            # A ranked position of a strategy the index does not answer.
            SearchQuery(text="cat", limit=1, cursor=_encode_cursor(["semantic", 1.0, "img_01", 3])),
        ):
            with pytest.raises(InvalidParameter):
                search_images(conn, query)


@given(any_text)
def test_any_filter_expression_is_read_or_refused(expression: str) -> None:
    try:
        condition = parse_where(expression)
    except InvalidParameter:
        return
    assert condition.op in (":", ">", ">=", "<", "<=") and condition.path


@given(
    st.sampled_from(["quality", "image_type", "custom:shop"]),
    st.lists(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), min_size=1, max_size=3),
    st.sampled_from([">", ">=", "<", "<="]),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_comparison_reads_back_as_written(
    feature: str, path: list[str], op: str, number: float
) -> None:
    condition = parse_where(f"{feature}.{'.'.join(path)}{op}{number!r}")
    assert (condition.feature, condition.path, condition.op) == (feature, tuple(path), op)
    assert condition.value == number


@given(st.booleans(), any_text)
def test_any_cursor_is_a_position_or_refused(ranked: bool, cursor: str) -> None:
    try:
        position = _decode_cursor(cursor, ranked)
    except InvalidParameter:
        return
    assert len(position) == (4 if ranked else 1)
    assert isinstance(position[2 if ranked else 0], str)


@given(
    st.sampled_from(["all_words", "any_words"]),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.integers(min_value=0),
)
def test_a_cursor_holds_its_position(strategy: str, rank: float, image_id: str, total: int) -> None:
    position = [strategy, rank, image_id, total]
    assert _decode_cursor(_encode_cursor(position), ranked=True) == position
    assert _decode_cursor(_encode_cursor([image_id]), ranked=False) == [image_id]


# -- synonyms --------------------------------------------------------------------------------
# From a labels file built as `sightline models prepare` builds it, from the real WordNet 3.0
# (Debian `wordnet-base`): people's own words find the picture, below the words it was tagged with.

WORDNET = Path("/usr/share/wordnet")
DAISY: dict[str, Any] = {
    **HEADER,
    "tags": [
        {"name": "daisy", "confidence": 0.91, "source": "imagenet", "broader": ["flower", "plant"]},
    ],
    "classes": [{"name": "daisy", "wnid": "n11939491", "confidence": 0.91}],
}
WOLF: dict[str, Any] = {
    **HEADER,
    "tags": [{"name": "wolf", "confidence": 0.8, "source": "imagenet", "broader": []}],
    "classes": [{"name": "grey wolf", "wnid": "n02114367", "confidence": 0.7}],
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder whose tags model has its labels file, as prepared."""
    folder = tmp_path_factory.mktemp("models")
    (folder / "efficientnet-lite0").mkdir()
    write_labels(folder / "efficientnet-lite0", WORDNET)
    return folder


@pytest.fixture(scope="module")
def indexer(model_dir: Path) -> Indexer:
    return catalog_indexer(model_dir)


@pytest.fixture
def synonym_catalog(catalog_url: str, indexer: Indexer) -> Iterator[Stores]:
    backend = Stores.from_url(catalog_url, indexer)
    yield backend
    backend.close()


def test_synonyms_of_tag_words_join_the_weak_tags(indexer: Indexer) -> None:
    document = build_document(None, {"tags": DAISY}, indexer)
    assert document.tags.splitlines() == ["daisy", "flower", "plant"]
    weak = document.weak_tags.splitlines()
    assert {"bloom", "blossom", "flora"} <= set(weak)
    # Without a labels file, tags are indexed as they are.
    assert build_document(None, {"tags": DAISY}, index_entries).weak_tags == ""


def test_a_labels_file_without_synonyms_adds_none(tmp_path: Path) -> None:
    (tmp_path / "efficientnet-lite0").mkdir()
    (tmp_path / "efficientnet-lite0" / "labels.json").write_text('{"classes": []}')
    assert catalog_indexer(tmp_path)("tags", DAISY) == index_entries("tags", DAISY)
    assert catalog_indexer(tmp_path / "nowhere")("tags", DAISY) == index_entries("tags", DAISY)


def test_words_people_use_find_the_picture(synonym_catalog: Stores) -> None:
    catalog = synonym_catalog
    add(catalog, "img_01", {"tags": DAISY})
    add(catalog, "img_02", {"tags": WOLF})
    add(catalog, "img_03", {"read": lines("Blossom Street")})
    for query in ("blooms", "flowers", "daisies", "the plant life"):
        assert found(catalog, query) == ["img_01"], query
    # A picture that reads "blossom" outranks one whose tags' synonym it is.
    assert found(catalog, "a blossom") == ["img_03", "img_01"]
    assert found(catalog, "wolves") == ["img_02"]  # an irregular plural, from WordNet


def test_the_migration_adds_synonyms_to_images_analysed_before_it(
    empty_catalog_url: str, indexer: Indexer
) -> None:
    db = Database(empty_catalog_url)
    stores.migrate(db, "0009")
    now = datetime.now(UTC)
    with db.write() as conn:
        conn.execute(
            insert(t.images),
            [
                {
                    "id": "img_01",
                    "sha256": "img_01",
                    "filename": None,
                    "content_type": "image/png",
                    "format": "PNG",
                    "size": 10,
                    "width": 1,
                    "height": 1,
                    "status": "done",
                    "client_metadata": {},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        conn.execute(
            insert(t.feature_results),
            [
                {
                    "image_id": "img_01",
                    "feature": "tags",
                    "status": "done",
                    "analyzer": "tags",
                    "version": "2",
                    "result": DAISY,
                    "updated_at": now,
                }
            ],
        )
    catalog = Stores.on(db, indexer)
    try:
        # Stored before revision 0010, without a document: 0010 writes it, synonyms and all.
        assert found(catalog, "daisy") == []
        stores.migrate(db, indexer=indexer)
        assert found(catalog, "blossom") == found(catalog, "daisy") == ["img_01"]
    finally:
        catalog.close()


def test_synonyms_are_read_back_by_lower_case_word(model_dir: Path) -> None:
    synonyms = read_synonyms(model_dir / "efficientnet-lite0" / "labels.json")
    assert {"bloom", "blossom"} <= set(synonyms["flower"])
    assert "tabby" in synonyms["tabby cat"] and "wolves" in synonyms["wolf"]
    assert with_synonyms(index_entries, {}) is index_entries
