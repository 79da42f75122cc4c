"""Full-text search over what the analysers found in each image, on SQLite FTS5.

Every image has one document in the FTS5 table `image_text`, whose rowid is the image row's own
SQLite rowid, so replacing or dropping a document is a rowid operation, never a scan, and
ranked matches join their images by rowid:

    labels     custom classifier predictions (`custom:*` results' `predicted`), and the labels
               of the user's classifiers (`model:*`) and detectors (`objects`) at confidence
               >= 0.5
    tags       `tags` words at confidence >= 0.5: ImageNet class names and their WordNet broader
               terms (a tabby is also "cat" and "animal")
    weak_tags  the less sure `tags` words, and `classes` names at confidence >= 0.1
    text       text read by OCR (`read` lines)
    filename   the uploaded file's name

Tokens (`porter unicode61 remove_diacritics 2`): case and accents are ignored, English endings
are stemmed ("dresses" finds "dress"), and punctuation splits tokens, so `POL-2024-118734` is
stored as pol 2024 118734 and found as that phrase.

Score: `bm25()` with column weights labels 8 > tags 2 > text = filename 1 > weak_tags 0.5 (the
user's own labels mean most; OCR text is long and noisy, but there for sure), negated so that
higher is better. Scores compare within one query only.

Confidence by column, not by repetition: a sure "cat" must outrank an unsure one. Writing a word
once per band of confidence was measured first and barely helped (a 0.93 cat scored 1% over a
0.3 one): FTS5 multiplies the column weight into the term frequency before bm25's saturation
(k1 = 1.2), and the repeats lengthen the document, which bm25 then normalises away (b = 0.75).
Splitting tags into a sure and a weak column keeps documents the same length and scored the sure
cat 42% higher. All of it stays inside FTS5: one `bm25()` call, no join to results to rank.

Query syntax: whitespace-separated words, all required; each word matches as the phrase of its
tokens, so `POL-2024-118734` and `87/100` are found as written; a `"quoted phrase"` must appear
as such. Nothing else is an operator: AND, OR, NEAR, `*`, `:` or parentheses are searched as
words or ignored, so no input can make FTS5 fail. An unbalanced quote, or a query without any
letter or digit, is `InvalidQuery`.

Rowids: `images` has a text primary key, so its rowid is implicit. A trigger deletes an image's
document with its row (SQLite hands a freed rowid to the next image), so only a new image and
changed results need a call (`refresh_document`). VACUUM keeps the rowids of a table with an
index, as `images` is; copying `images` into a new table (Alembic's SQLite batch mode) renumbers
them and drops the trigger: such a migration must recreate the trigger and call
`rebuild_documents`.

Only SQLite has the table (migration 0003): elsewhere the writers do nothing and a search that
needs it (text, tag or label filters) raises `SearchUnavailable`; other filters work anywhere.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    and_,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from sightline.catalog import tables as t
from sightline.catalog.base import JSON, ImageStatus
from sightline.errors import InvalidParameter, InvalidQuery, SearchUnavailable

TABLE = "image_text"
COLUMNS = ("labels", "tags", "weak_tags", "text", "filename")
WEIGHTS = (8.0, 2.0, 0.5, 1.0, 1.0)  # bm25 weights in column order
SURE_TAG = 0.5  # tags at this confidence or more are in `tags`, others in `weak_tags`
MIN_CLASS_CONFIDENCE = 0.1  # `classes` holds the top 5 whatever their probability
MIN_LABEL_CONFIDENCE = 0.5  # user models' labels: what their own top-1 threshold would be
MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 32
INDEXED_PREFIXES = ("custom:", "model:")
INDEXED_FEATURES = ("tags", "read", "objects")

_IMAGE_ROWID: ColumnElement[int] = literal_column("images.rowid", Integer)
_WHERE = re.compile(
    r"(?P<feature>[^.\s]+)\.(?P<path>\w+(?:\.\w+)*)(?P<op>:|>=|<=|>|<)(?P<value>.*)"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WORD = re.compile(r'[^\s"]+')
_COMPARISONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    ":": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Document:
    labels: str
    tags: str
    weak_tags: str
    text: str
    filename: str


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


@dataclass(frozen=True)
class SearchHit:
    image_id: str
    score: float | None  # relevance, higher is better; None without a text query


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None


# -- documents -------------------------------------------------------------------------------


def build_document(filename: str | None, results: Mapping[str, JSON]) -> Document:
    """The searchable words of one image, from its features' results by feature name."""
    labels: list[str] = []
    tags: dict[str, float] = {}  # word -> its best confidence
    lines: list[str] = []
    for feature, result in sorted(results.items()):
        if feature == "tags":
            scored = [*result.get("tags", []), *result.get("classes", [])]
            for entry in scored:
                if entry["confidence"] >= MIN_CLASS_CONFIDENCE:
                    tags[entry["name"]] = max(entry["confidence"], tags.get(entry["name"], 0.0))
        elif feature == "read":
            lines.extend(line["text"] for line in result.get("lines", []))
        elif feature == "objects":
            labels.extend(
                found["label"]
                for detector in result.get("detectors", [])
                for found in detector.get("objects", [])
                if found["confidence"] >= MIN_LABEL_CONFIDENCE
            )
        elif feature.startswith("custom:"):
            labels.extend(result.get("predicted", []))
        elif feature.startswith("model:"):
            labels.extend(
                label["name"]
                for label in result.get("labels", [])
                if label["confidence"] >= MIN_LABEL_CONFIDENCE
            )
    return Document(
        labels="\n".join(dict.fromkeys(labels)),
        tags="\n".join(word for word, confidence in tags.items() if confidence >= SURE_TAG),
        weak_tags="\n".join(word for word, confidence in tags.items() if confidence < SURE_TAG),
        text="\n".join(lines),
        filename=filename or "",
    )


def refresh_document(conn: Connection, image_id: str) -> None:
    """Rewrite the image's document from its current results (call after they change)."""
    if conn.dialect.name != "sqlite":
        return
    image = conn.execute(
        select(_IMAGE_ROWID.label("rowid"), t.images.c.filename).where(t.images.c.id == image_id)
    ).first()
    if image is None:
        return
    results = conn.execute(
        select(t.feature_results.c.feature, t.feature_results.c.result).where(
            t.feature_results.c.image_id == image_id, _indexed_feature()
        )
    ).all()
    document = _document(image.filename, results)
    conn.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :rowid"), {"rowid": image.rowid})
    _insert(conn, [_row(image.rowid, document)])


def rebuild_documents(conn: Connection, batch: int = 500) -> int:
    """Rewrite every image's document (after a migration that created the table or renumbered
    the images' rowids); returns how many images were indexed."""
    if conn.dialect.name != "sqlite":
        return 0
    conn.exec_driver_sql(f"DELETE FROM {TABLE}")
    results = t.feature_results
    rows = conn.execute(
        select(
            _IMAGE_ROWID.label("rowid"),
            t.images.c.filename,
            results.c.feature,
            results.c.result,
        )
        .select_from(
            t.images.outerjoin(
                results, and_(results.c.image_id == t.images.c.id, _indexed_feature())
            )
        )
        .order_by(_IMAGE_ROWID)
    )
    images = (list(found) for _rowid, found in itertools.groupby(rows, _rowid))
    count = 0
    for chunk in _chunks(images, batch):
        documents = [_row(found[0].rowid, _document(found[0].filename, found)) for found in chunk]
        _insert(conn, documents)
        count += len(documents)
    return count


def is_index_table(name: str | None) -> bool:
    """The FTS5 table and its shadow tables, which schema comparisons (Alembic's `include_name`,
    whose names may be None) must skip: they are made by hand, not from `tables.metadata`."""
    return name is not None and (name == TABLE or name.startswith(f"{TABLE}_"))


# -- queries ---------------------------------------------------------------------------------


def match_expression(query: str) -> str:
    """The FTS5 MATCH expression for a user's query: every word or quoted phrase, each as one
    quoted FTS5 phrase, ANDed. Raises `InvalidQuery` for what cannot be searched."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"The query has more than {MAX_QUERY_CHARS} characters.")
    terms = [term for term in _terms(query) if _has_token(term)]
    if not terms:
        raise InvalidQuery("The query has no words to search for.")
    if len(terms) > MAX_QUERY_TERMS:
        raise InvalidQuery(f"The query has more than {MAX_QUERY_TERMS} words or phrases.")
    return " AND ".join(_phrase(term) for term in terms)


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
    """One page of the images matching `query` (see `SearchQuery`)."""
    ranked = bool(query.text and query.text.strip())
    match = match_expression(query.text or "") if ranked else None
    filters = _filter_expression(query)
    if (match or filters) and conn.dialect.name != "sqlite":
        raise SearchUnavailable(
            f"Text, tag and label search need the SQLite catalog; not yet on {conn.dialect.name}."
        )
    conditions = _conditions(query)
    if filters:
        documents = text(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :filters").bindparams(
            filters=filters
        )
        conditions.append(_IMAGE_ROWID.in_(documents.columns(rowid=Integer)))
    after = _decode_cursor(query.cursor, ranked) if query.cursor else None
    if match is None:
        if after is not None:
            conditions.append(t.images.c.id < after[0])
        rows = conn.execute(
            select(t.images.c.id)
            .where(*conditions)
            .order_by(t.images.c.id.desc())
            .limit(query.limit + 1)
        ).all()
        hits = [SearchHit(row.id, None) for row in rows]
        return _page(hits, query.limit, lambda hit: [hit.image_id])
    weights = ", ".join(str(weight) for weight in WEIGHTS)
    scored = (
        text(
            f"SELECT rowid, bm25({TABLE}, {weights}) AS rank "
            f"FROM {TABLE} WHERE {TABLE} MATCH :match"
        )
        .bindparams(match=match)
        .columns(rowid=Integer, rank=Float)
        .subquery("scored")
    )
    if after is not None:
        rank, image_id = after
        conditions.append(
            or_(scored.c.rank > rank, and_(scored.c.rank == rank, t.images.c.id < image_id))
        )
    rows = conn.execute(
        select(t.images.c.id, scored.c.rank)
        .join_from(scored, t.images, _IMAGE_ROWID == scored.c.rowid)
        .where(*conditions)
        .order_by(scored.c.rank, t.images.c.id.desc())
        .limit(query.limit + 1)
    ).all()
    ranks = {row.id: row.rank for row in rows}
    # bm25() is negative, better matches lower: the API reports its negation.
    hits = [SearchHit(row.id, -row.rank) for row in rows]
    return _page(hits, query.limit, lambda hit: [ranks[hit.image_id], hit.image_id])


# -- helpers ---------------------------------------------------------------------------------


def _document(filename: str | None, rows: Iterable[Any]) -> Document:
    """The document from (feature, result) rows; a failed feature's result is null."""
    return build_document(filename, {row.feature: row.result for row in rows if row.result})


def _rowid(row: Any) -> int:
    rowid: int = row.rowid
    return rowid


def _indexed_feature() -> ColumnElement[bool]:
    feature = t.feature_results.c.feature
    return or_(
        feature.in_(INDEXED_FEATURES),
        *(feature.startswith(prefix, autoescape=True) for prefix in INDEXED_PREFIXES),
    )


def _row(rowid: int, document: Document) -> dict[str, Any]:
    return {"rowid": rowid, **{column: getattr(document, column) for column in COLUMNS}}


def _insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(
            text(
                f"INSERT INTO {TABLE} (rowid, {', '.join(COLUMNS)}) "
                f"VALUES (:rowid, {', '.join(':' + column for column in COLUMNS)})"
            ),
            list(rows),
        )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _terms(query: str) -> Iterator[str]:
    """Words and quoted phrases, in order; a quote starts or ends a phrase anywhere."""
    position = 0
    while position < len(query):
        if query[position] == '"':
            end = query.find('"', position + 1)
            if end < 0:
                raise InvalidQuery('The query has an unbalanced quote (").')
            yield query[position + 1 : end]
            position = end + 1
        elif query[position].isspace():
            position += 1
        else:
            found = _WORD.match(query, position)
            assert found is not None
            yield found.group()
            position = found.end()


def _has_token(term: str) -> bool:
    # unicode61's token characters: letters, numbers and private-use code points; the rest
    # separates tokens, and a phrase without tokens would match nothing.
    return any(
        unicodedata.category(char)[0] in "LN" or unicodedata.category(char) == "Co" for char in term
    )


def _phrase(term: str) -> str:
    """`term` as one FTS5 string: a phrase of its tokens. FTS5 reads a NUL as the end of the
    query, so control characters become spaces (they separate tokens anyway)."""
    return '"' + _CONTROL.sub(" ", term).replace('"', '""') + '"'


def _filter_expression(query: SearchQuery) -> str | None:
    parts = [
        f"{column} : {_phrase(value)}"
        for column, values in (("{tags weak_tags}", query.tags), ("labels", query.labels))
        for value in values
    ]
    for value in (*query.tags, *query.labels):
        if not _has_token(value):
            raise InvalidParameter(f"The tag or label {value!r} has no letters or digits.")
    return " AND ".join(parts) or None


def _conditions(query: SearchQuery) -> list[ColumnElement[bool]]:
    images = t.images.c
    bounds: list[tuple[Any, Callable[[Any, Any], ColumnElement[bool]], Any]] = [
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


def _is_number(value: object) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _page(
    hits: list[SearchHit], limit: int, position: Callable[[SearchHit], list[Any]]
) -> SearchPage:
    if len(hits) <= limit:
        return SearchPage(hits, None)
    return SearchPage(hits[:limit], _encode_cursor(position(hits[limit - 1])))


def _encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, ranked: bool) -> list[Any]:
    """The position a cursor holds: [rank, image id] for a ranked page, [image id] for a
    listing."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidParameter("The cursor is malformed.") from exc
    if (
        isinstance(position, list)
        and len(position) == (2 if ranked else 1)
        and isinstance(position[-1], str)
        and (not ranked or _is_number(position[0]))
    ):
        return position
    raise InvalidParameter("The cursor is malformed or belongs to another kind of query.")


__all__ = [
    "Document",
    "FieldFilter",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "build_document",
    "is_index_table",
    "match_expression",
    "parse_where",
    "rebuild_documents",
    "refresh_document",
    "search_images",
]
