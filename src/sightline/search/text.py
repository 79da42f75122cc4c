"""Full-text search over what the analysers found in each image, on SQLite and PostgreSQL.

Every image has one document (`search.documents`: labels, tags, weak tags, OCR text, file name)
in its database's text index: FTS5 on SQLite (`search.fts5`), a weighted `tsvector` on
PostgreSQL (`search.tsvector`). This module holds what both share: the query syntax, the
filters, ranking order and pages, and keeping documents current; each index only matches and
scores. Scores rank labels > tags > text = filename > weak tags on both, and compare within one
query on one backend only.

Query syntax: whitespace-separated words; each word matches as the phrase of its tokens, so
`POL-2024-118734` and `87/100` are found as written; a `"quoted phrase"` must appear as such.
English stop words ("a", "the", "of": `search.stop_words`) outside quotes are ignored and the
answer lists them (`ignored_words`); a query of nothing but stop words searches them as words.
Nothing else is an operator: AND, OR, NEAR, `*`, `:` or parentheses are searched as words or
ignored, so no input can make the index fail. An unbalanced quote, or a query without any letter
or digit, is `InvalidQuery`.

Strategies (`Strategy`), tried in order until one finds something; the answer says which:
- `all_words`: every word or phrase must match (ranked as above).
- `any_words`, when all words found nothing and there are several: images matching any of them,
  more matched words first, then by relevance. Only "nothing" triggers it, not "a few": one
  image with every word is the answer, and the rank would put it first anyway; mixing partial
  matches in would change the total and dilute the page.
- `semantic` is the search service's last resort (`SearchService.text`), not this module's.
A cursor carries its strategy, so later pages continue the ranking that made the first one.
`total` counts every match of the strategy: the first page counts (`_ranked_page`) and its
cursor carries the count to the pages after it. A listing, without words, is not counted.

Measured on six scikit-image photos (cat, coffee, rocket, astronaut, cameraman, coins) with 20
plain queries ("a cat", "photo of a cat", "a cup of coffee", "hot drink", "the space shuttle",
"money"...): every word required and no synonyms found the intended photo for 4 (MRR 0.20);
stop words, synonyms and any-word matching find 10 by their words, and the fallback to meaning
the other 10 (MRR 0.92).

Documents change in the transaction that changes the results (`refresh_document`), and go with
their image (a trigger on SQLite, a cascading foreign key on PostgreSQL).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Connection, Subquery, and_, bindparam, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from sightline import json_input
from sightline.errors import InvalidParameter, InvalidQuery
from sightline.indexing import Indexer
from sightline.search.documents import Document, build_document, document_of, has_word
from sightline.search.fts5 import FTS5Index
from sightline.search.stop_words import is_stop_word
from sightline.search.tsvector import TsvectorIndex
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.records import FeatureState, ImageStatus
from sightline.storage.statements import chunks

MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 32

_WHERE = re.compile(
    r"(?P<feature>[^.\s]+)\.(?P<path>\w+(?:\.\w+)*)(?P<op>:|>=|<=|>|<)(?P<value>.*)"
)
_WORD = re.compile(r'[^\s"]+')
_COMPARISONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    ":": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class TextIndex(Protocol):
    """One database's index of the documents."""

    def replace(self, conn: Connection, image_id: str, document: Document) -> None:
        """Make `document` the image's only one."""

    def clear(self, conn: Connection) -> None:
        """Remove every document, and keep others from writing one until `conn`'s transaction
        ends (a rebuild reads the results after this, and must not miss a worker's)."""

    def insert(self, conn: Connection, documents: Sequence[tuple[str, Document]]) -> None:
        """Add documents of images that have none (by image id)."""

    def ranked(self, terms: Sequence[str]) -> Subquery:
        """Images whose document has every term (each a phrase), as columns `image_id` and
        `score` (higher is better)."""

    def ranked_any(self, terms: Sequence[str]) -> Subquery:
        """Images whose document has any of the terms, as `image_id` and `score`: the number
        of terms matched plus a relevance in [0, 1), so more matched terms always rank higher."""

    def count(self, conn: Connection, terms: Sequence[str], *, every: bool) -> int:
        """How many documents `ranked` (every term) or `ranked_any` would score, without
        scoring them."""

    def filtered(self, tags: Sequence[str], labels: Sequence[str]) -> ColumnElement[bool]:
        """A condition on `images`: every phrase among its tags (sure or weak) or labels."""


INDEXES: dict[str, TextIndex] = {"sqlite": FTS5Index(), "postgresql": TsvectorIndex()}


class Strategy(StrEnum):
    """How a text query was answered (see the module's docstring)."""

    ALL_WORDS = "all_words"
    ANY_WORDS = "any_words"
    SEMANTIC = "semantic"


RANKED_STRATEGIES = frozenset({str(Strategy.ALL_WORDS), str(Strategy.ANY_WORDS)})  # the index's


@dataclass(frozen=True)
class QueryWords:
    """A query read: the terms to match (words and phrases), the stop words left out, and
    whether every term is plain words (no quoted phrase, no digit), the kind of query that may
    be answered by meaning when no word matches."""

    terms: tuple[str, ...]
    ignored: tuple[str, ...]
    plain: bool


@dataclass(frozen=True)
class FieldFilter:
    """A condition on one field of a feature's result: `op` is `:` (equal) or a numeric
    comparison (`>`, `>=`, `<`, `<=`); `path` walks nested objects from the result's top."""

    feature: str
    path: tuple[str, ...]
    op: str
    value: str | float | bool


@dataclass(frozen=True)
class SearchQuery:
    """Images matching every given criterion. With `text`, best first (`cursor` continues a
    ranking); without, newest first."""

    text: str | None = None
    collection: str | None = None  # None: every collection
    tags: tuple[str, ...] = ()  # a tag word or phrase, e.g. "cat", "golden retriever"
    labels: tuple[str, ...] = ()  # a predicted custom or user-model label
    where: tuple[FieldFilter, ...] = ()
    content_type: str | None = None
    status: ImageStatus | None = None
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None
    min_width: int | None = None
    max_width: int | None = None
    min_height: int | None = None
    max_height: int | None = None
    min_size: int | None = None  # bytes
    max_size: int | None = None
    limit: int = 20
    cursor: str | None = None

    def has_filters(self) -> bool:
        """Whether anything beyond the words and the collection narrows the search."""
        bounds = (self.content_type, self.status, self.uploaded_after, self.uploaded_before)
        sizes = (self.min_width, self.max_width, self.min_height, self.max_height)
        return bool(self.tags or self.labels or self.where) or any(
            value is not None for value in (*bounds, *sizes, self.min_size, self.max_size)
        )


@dataclass(frozen=True)
class SearchHit:
    image_id: str
    score: float | None  # relevance, higher is better; None without a text query


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None
    total: int | None  # every match, every page; None: a listing, not counted
    strategy: Strategy | None = None  # None: no words, a listing
    ignored_words: tuple[str, ...] = ()
    plain: bool = False  # the words may be searched by meaning (`QueryWords.plain`)


class SQLTextSearch:
    """Text search on one database; a `ResultIndex` of the image store (`refresh`), so that
    documents change in the transaction that changes the results. `indexer` reads each stored
    result's declared words (`sightline.indexing`)."""

    def __init__(self, db: Database, indexer: Indexer) -> None:
        self.db = db
        self.indexer = indexer  # the words each stored result declares

    def search(self, query: SearchQuery) -> SearchPage:
        with self.db.read() as conn:
            return search_images(conn, query)

    def refresh(self, conn: Connection, image_id: str, changed: Sequence[FeatureState]) -> None:
        refresh_document(conn, image_id, self.indexer)

    def added(self, conn: Connection, images: Sequence[tuple[str, str | None]]) -> None:
        _index(conn).insert(
            conn,
            [
                (image_id, build_document(filename, {}, self.indexer))
                for image_id, filename in images
            ],
        )


# -- documents -------------------------------------------------------------------------------


# An image's file name with each of its results (none: one row of nulls), in one query; built
# once, so that SQLAlchemy compiles it once.
IMAGE_WITH_RESULTS = (
    select(t.images.c.filename, t.feature_results.c.feature, t.feature_results.c.result)
    .select_from(
        t.images.outerjoin(t.feature_results, t.feature_results.c.image_id == t.images.c.id)
    )
    .where(t.images.c.id == bindparam("image_id"))
)


def refresh_document(conn: Connection, image_id: str, indexer: Indexer) -> None:
    """Rewrite the image's document from its current results (call after they change)."""
    # Every result: which ones hold words is for `indexer` to say, not for the catalog.
    rows = conn.execute(IMAGE_WITH_RESULTS, {"image_id": image_id}).all()
    if not rows:
        return
    results = [row for row in rows if row.feature is not None]
    _index(conn).replace(conn, image_id, document_of(rows[0].filename, results, indexer))


def rebuild_documents(conn: Connection, indexer: Indexer, batch: int = 500) -> int:
    """Rewrite every image's document (after a migration that created the index or renumbered
    SQLite's rowids); returns how many images were indexed."""
    index = _index(conn)
    index.clear(conn)
    results = t.feature_results
    rows = conn.execute(
        select(t.images.c.id, t.images.c.filename, results.c.feature, results.c.result)
        .select_from(t.images.outerjoin(results, results.c.image_id == t.images.c.id))
        .order_by(t.images.c.id)
    )
    images = (list(found) for _id, found in itertools.groupby(rows, _image_id))
    count = 0
    for chunk in chunks(images, batch):
        documents = [
            (found[0].id, document_of(found[0].filename, found, indexer)) for found in chunk
        ]
        index.insert(conn, documents)
        count += len(chunk)
    return count


# -- queries ---------------------------------------------------------------------------------


def query_words(query: str) -> QueryWords:
    """The words and quoted phrases of a user's query, each to be matched as a phrase, less its
    stop words. Raises `InvalidQuery` for what cannot be searched."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"The query has more than {MAX_QUERY_CHARS} characters.")
    terms = [(term, quoted) for term, quoted in _terms(query) if has_word(term)]
    if not terms:
        raise InvalidQuery("The query has no words to search for.")
    if len(terms) > MAX_QUERY_TERMS:
        raise InvalidQuery(f"The query has more than {MAX_QUERY_TERMS} words or phrases.")
    kept = [(term, quoted) for term, quoted in terms if quoted or not is_stop_word(term)]
    ignored = tuple(dict.fromkeys(term for term, quoted in terms if (term, quoted) not in kept))
    if not kept:  # "the who": nothing else to look for
        kept, ignored = terms, ()
    return QueryWords(
        terms=tuple(term for term, _quoted in kept),
        ignored=ignored,
        plain=not any(quoted or any(char.isdigit() for char in term) for term, quoted in kept),
    )


def parse_where(expression: str) -> FieldFilter:
    """`FEATURE.FIELD:VALUE` (equal: true/false, a number or a word) or `FEATURE.FIELD>=NUMBER`
    (also `>`, `<`, `<=`); FIELD may be a dotted path into nested objects."""
    found = _WHERE.fullmatch(expression.strip())
    value = found["value"].strip() if found else ""
    if found is None or not value:
        raise InvalidParameter(
            f"Cannot read the filter {expression!r}: write FEATURE.FIELD:VALUE, e.g. "
            "image_type.type:photo, or FEATURE.FIELD>=NUMBER, e.g. quality.score>=0.7."
        )
    path = tuple(found["path"].split("."))
    number = _number(value)
    if found["op"] != ":":
        if number is None:
            raise InvalidParameter(f"The filter {expression!r} compares with a number.")
        return FieldFilter(found["feature"], path, found["op"], number)
    if value.lower() in ("true", "false"):
        return FieldFilter(found["feature"], path, ":", value.lower() == "true")
    return FieldFilter(found["feature"], path, ":", value if number is None else number)


def search_images(conn: Connection, query: SearchQuery) -> SearchPage:
    """One page of the images matching `query` (see `SearchQuery` and the strategies above)."""
    ranked = bool(query.text and query.text.strip())
    words = query_words(query.text or "") if ranked else None
    conditions = _conditions(query)
    for value in (*query.tags, *query.labels):
        if not has_word(value):
            raise InvalidParameter(f"The tag or label {value!r} has no letters or digits.")
    if query.tags or query.labels:
        conditions.append(_index(conn).filtered(query.tags, query.labels))
    after = _decode_cursor(query.cursor, ranked) if query.cursor else None
    if words is None:
        return _listing(conn, conditions, query.limit, after)
    if after is not None:
        page = _ranked_page(conn, Strategy(after[0]), words, conditions, query.limit, after[1:])
    else:
        page = _ranked_page(conn, Strategy.ALL_WORDS, words, conditions, query.limit, None)
        if page.total == 0 and len(words.terms) > 1:
            page = _ranked_page(conn, Strategy.ANY_WORDS, words, conditions, query.limit, None)
    return page


def _listing(
    conn: Connection, conditions: list[ColumnElement[bool]], limit: int, after: list[Any] | None
) -> SearchPage:
    """Newest first, without words, and uncounted: a page stops at its last row by the id
    index, a count would read every image the filters keep (0.25 -> 375 ms for a `where`
    filter over 100,000 images)."""
    if after is not None:
        conditions = [*conditions, t.images.c.id < after[0]]
    rows = conn.execute(
        select(t.images.c.id).where(*conditions).order_by(t.images.c.id.desc()).limit(limit + 1)
    ).all()
    hits = [SearchHit(row.id, None) for row in rows]
    return _page(hits, limit, None, lambda hit: [hit.image_id])


def _ranked_page(
    conn: Connection,
    strategy: Strategy,
    words: QueryWords,
    conditions: list[ColumnElement[bool]],
    limit: int,
    after: list[Any] | None,
) -> SearchPage:
    """One page. The first page counts every match: from the index alone without filters
    (0.5 ms for 12,000 matches of 100,000 documents on FTS5), else in its own query (`COUNT(*)
    OVER ()`: ranking reads every match anyway); later pages carry that total in their cursor."""
    index = _index(conn)
    every = strategy is Strategy.ALL_WORDS
    scored = index.ranked(words.terms) if every else index.ranked_any(words.terms)
    total = None if after is None else int(after[2])
    if total is None and not conditions:
        total = index.count(conn, words.terms, every=every)
    counted = [func.count().over().label("total")] if total is None else []
    page = (
        select(t.images.c.id, scored.c.score, *counted)
        .join_from(scored, t.images, t.images.c.id == scored.c.image_id)
        .where(*conditions)
    )
    if after is not None:
        score, image_id = after[:2]
        page = page.where(
            or_(scored.c.score < score, and_(scored.c.score == score, t.images.c.id < image_id))
        )
    rows = conn.execute(
        page.order_by(scored.c.score.desc(), t.images.c.id.desc()).limit(limit + 1)
    ).all()
    if total is None:
        total = int(rows[0].total) if rows else 0
    hits = [SearchHit(row.id, float(row.score)) for row in rows]
    found = _page(hits, limit, total, lambda hit: [str(strategy), hit.score, hit.image_id, total])
    return SearchPage(found.hits, found.next_cursor, total, strategy, words.ignored, words.plain)


# -- helpers ---------------------------------------------------------------------------------


def _index(conn: Connection) -> TextIndex:
    return INDEXES[conn.dialect.name]


def _image_id(row: Any) -> str:
    image_id: str = row.id
    return image_id


def _terms(query: str) -> Iterator[tuple[str, bool]]:
    """Words and quoted phrases (and whether quoted), in order; a quote starts or ends a phrase
    anywhere."""
    position = 0
    while position < len(query):
        if query[position] == '"':
            end = query.find('"', position + 1)
            if end < 0:
                raise InvalidQuery('The query has an unbalanced quote (").')
            yield query[position + 1 : end], True
            position = end + 1
        elif query[position].isspace():
            position += 1
        else:
            found = _WORD.match(query, position)
            assert found is not None
            yield found.group(), False
            position = found.end()


def _conditions(query: SearchQuery) -> list[ColumnElement[bool]]:
    images = t.images.c
    bounds: list[tuple[Any, Callable[[Any, Any], ColumnElement[bool]], Any]] = [
        (images.collection, operator.eq, query.collection),
        (images.status, operator.eq, None if query.status is None else str(query.status)),
        (images.content_type, operator.eq, query.content_type),
        (images.created_at, operator.gt, query.uploaded_after),
        (images.created_at, operator.lt, query.uploaded_before),
        (images.width, operator.ge, query.min_width),
        (images.width, operator.le, query.max_width),
        (images.height, operator.ge, query.min_height),
        (images.height, operator.le, query.max_height),
        (images.size, operator.ge, query.min_size),
        (images.size, operator.le, query.max_size),
    ]
    conditions = [compare(column, value) for column, compare, value in bounds if value is not None]
    conditions.extend(_field_condition(field) for field in query.where)
    return conditions


def _field_condition(field: FieldFilter) -> ColumnElement[bool]:
    results = t.feature_results.c
    value = results.result[field.path]
    if isinstance(field.value, bool):
        test = value.as_boolean() == field.value
    elif isinstance(field.value, float):
        test = _COMPARISONS[field.op](value.as_float(), field.value)
    else:
        test = value.as_string() == field.value
    return (
        select(results.image_id)
        .where(results.image_id == t.images.c.id, results.feature == field.feature, test)
        .exists()
    )


def _is_ranked_position(position: list[Any]) -> bool:
    strategy, rank, _image_id, total = position
    return (
        strategy in RANKED_STRATEGIES
        and _is_number(rank)
        and isinstance(total, int)
        and not isinstance(total, bool)
        and total >= 0
    )


def _is_number(value: object) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _page(
    hits: list[SearchHit], limit: int, total: int | None, position: Callable[[SearchHit], list[Any]]
) -> SearchPage:
    if len(hits) <= limit:
        return SearchPage(hits, None, total)
    return SearchPage(hits[:limit], _encode_cursor(position(hits[limit - 1])), total)


def _encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, ranked: bool) -> list[Any]:
    """The position a cursor holds: [strategy, rank, image id, total] for a ranked page,
    [image id] for a listing."""
    try:
        position = json_input.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidParameter("The cursor is malformed.") from exc
    if (
        isinstance(position, list)
        and len(position) == (4 if ranked else 1)
        and isinstance(position[-1 if not ranked else 2], str)
        and (not ranked or _is_ranked_position(position))
    ):
        return position
    raise InvalidParameter("The cursor is malformed or belongs to another kind of query.")


__all__ = [
    "Document",
    "FieldFilter",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "Strategy",
    "build_document",
    "parse_where",
    "query_words",
    "rebuild_documents",
    "refresh_document",
    "search_images",
]
