"""The search service reads the images of a page of hits at once, keeps the index's order, and
leaves out images deleted since the index found them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from sightline.errors import InvalidParameter
from sightline.search.service import SearchService
from sightline.search.text import SearchHit, SearchPage, SearchQuery, Strategy
from sightline.search.vectors import VectorSearch
from sightline.storage.records import ImageRecord, ImageStatus, Vector
from sightline.vision import Analyzer


def record(image_id: str) -> ImageRecord:
    now = datetime.now(UTC)
    return ImageRecord(
        id=image_id,
        sha256="0" * 64,
        filename=None,
        content_type="image/png",
        format="PNG",
        size=1,
        width=1,
        height=1,
        status=ImageStatus.DONE,
        client_metadata={},
        duplicate_of=None,
        created_at=now,
        updated_at=now,
    )


class Images:
    """The images that still exist, counting how often they are read."""

    def __init__(self, *image_ids: str) -> None:
        self.records = {image_id: record(image_id) for image_id in image_ids}
        self.reads: list[list[str]] = []

    def get_images(
        self, image_ids: Sequence[str], collection: str | None = None
    ) -> dict[str, ImageRecord]:
        self.reads.append(list(image_ids))
        return {i: self.records[i] for i in image_ids if i in self.records}


class Page:
    def __init__(self, *hits: tuple[str, float]) -> None:
        found = [SearchHit(i, score) for i, score in hits]
        self.page = SearchPage(found, "next", total=len(found), strategy=Strategy.ALL_WORDS)

    def search(self, query: SearchQuery) -> SearchPage:
        return self.page


class Nearest:
    """A vector index that answers the same neighbours whatever vector it is asked for, until
    it is told to forget some."""

    def __init__(self, *found: tuple[str, float]) -> None:
        self.found = list(found)
        self.forgotten: list[str] = []

    def nearest(
        self,
        feature: str,
        version: str,
        vector: Vector,
        k: int,
        exclude: Collection[str] = (),
        collection: str | None = None,
    ) -> list[tuple[str, float]]:
        return [hit for hit in self.found if hit[0] not in exclude][:k]

    def forget(self, feature: str, version: str, image_ids: Iterable[str]) -> None:
        gone = list(image_ids)
        self.forgotten.extend(gone)
        self.found = [hit for hit in self.found if hit[0] not in gone]


class StoredVectors:
    def vector_of(self, image_id: str, feature: str) -> tuple[str, Vector]:
        return "1", np.ones(4, dtype=np.float32)


class Embedding:
    name = "embedding"
    version = "1"


def service(images: Images, page: Page | None = None, index: Nearest | None = None) -> Any:
    return SearchService(
        images,
        page or Page(),
        cast(Any, StoredVectors()),
        cast(VectorSearch, index or Nearest()),
        cast(Any, None),
        {"embedding": cast(Analyzer, Embedding())},
        semantic_threshold=0.5,
    )


def test_a_page_of_text_hits_is_read_in_one_go_in_rank_order() -> None:
    images = Images("img_a", "img_b", "img_c")
    page = Page(("img_c", 3.0), ("img_gone", 2.5), ("img_a", 2.0), ("img_b", 1.0))
    answer = service(images, page).text(SearchQuery(text="cat"))
    assert [(hit.image.id, hit.score) for hit in answer.hits] == [
        ("img_c", 3.0),
        ("img_a", 2.0),
        ("img_b", 1.0),
    ]
    assert images.reads == [["img_c", "img_gone", "img_a", "img_b"]]
    assert answer.next_cursor == "next"


def test_words_that_match_nothing_stay_a_text_answer_where_meaning_is_unavailable() -> None:
    nothing = Page()
    nothing.page = SearchPage([], None, 0, Strategy.ANY_WORDS, ("a",), plain=True)
    searching = service(Images(), nothing)
    searching.models = SimpleNamespace(registry=SimpleNamespace(specs=list))  # no clip model
    answer = searching.text(SearchQuery(text="a red kitten"))
    assert (answer.method, answer.strategy, answer.total, answer.hits) == (
        "text",
        Strategy.ANY_WORDS,
        0,
        [],
    )
    assert answer.ignored_words == ("a",)


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(InvalidParameter, match="uploaded_after needs a time zone"):
        service(Images()).text(SearchQuery(uploaded_after=datetime(2026, 1, 1)))


def test_similar_images_are_read_in_one_go_and_deleted_ones_are_forgotten() -> None:
    query, first, gone, second = (f"img_{n:028x}" for n in range(4))
    images = Images(query, first, second)
    index = Nearest((query, 1.0), (first, 0.9), (gone, 0.8), (second, 0.7))
    answer = service(images, index=index).similar(query, limit=3, collection=None)
    assert [hit.image.id for hit in answer.hits] == [first, second]
    # One read per round: a deleted hit left the page short, so the index was asked for more.
    assert images.reads == [[query], [first, gone, second], [first, second]]
    assert index.forgotten == [gone]
