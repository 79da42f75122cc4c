"""The full-text index on PostgreSQL: a `tsvector` per image in `image_text` (migration 0005).

One weighted document per image: labels A, tags B, text and filename C, weak tags D, ranked by
`ts_rank` with the weights 1 > 0.25 > 0.125 > 0.0625 (FTS5's 8 : 2 : 1 : 0.5 scaled to A = 1)
and length normalisation 1 (divided by 1 + log of the document's length), as bm25 prefers a
match in a short document. A GIN index answers `@@`; tag and label filters read only their
weights (`ts_filter`), each through its own GIN expression index.

Words: the text search configuration `sightline` is PostgreSQL's `english` without stop words
(FTS5 has none either, so "the who" or "a red" stay searchable) and with Snowball English
stemming ("dresses" finds "dress"; FTS5's porter stems nearly alike). PostgreSQL's parser splits
words its own way, so documents and queries reach it as `plain_words`, already split and
unaccented as FTS5 would; each query word or phrase then becomes a `phraseto_tsquery`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Float, String, Subquery, text
from sqlalchemy.sql.elements import ColumnElement

from sightline.search.documents import Document, any_score, plain_words
from sightline.storage import tables as t

TABLE = t.TEXT_INDEX_TABLE
CONFIG = "sightline"
RANK_WEIGHTS = "{0.0625, 0.125, 0.25, 1.0}"  # D, C, B, A
RANK_NORMALIZATION = 1
LABELS = "ts_filter(document, '{a}')"  # the expressions the filter indexes are made on
TAGS = "ts_filter(document, '{b,d}')"

# Column, weight: phrases never span two columns, as each is its own tsvector.
_WEIGHTED = (("labels", "A"), ("tags", "B"), ("text", "C"), ("filename", "C"), ("weak_tags", "D"))
_DOCUMENT = " || ".join(
    f"setweight(to_tsvector('{CONFIG}', :{column}), '{weight}')" for column, weight in _WEIGHTED
)


class TsvectorIndex:
    def replace(self, conn: Connection, image_id: str, document: Document) -> None:
        self.insert(conn, [(image_id, document)])

    def clear(self, conn: Connection) -> None:
        # A rebuild runs while workers may still write documents (a migration under running
        # workers). Held until it commits, these locks make the rebuild wait for the writers
        # already at work and the next ones wait for it, so it never overwrites a worker's
        # newer document with one made from results read before the worker committed them.
        # Workers lock their image's row before its document: taking the images table first
        # keeps that order, which the rebuild's own foreign-key checks would otherwise invert
        # (a deadlock). Reads and searches go on; writes to images wait for the rebuild.
        conn.exec_driver_sql(f"LOCK TABLE {t.images.name} IN EXCLUSIVE MODE")
        conn.exec_driver_sql(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
        conn.exec_driver_sql(f"DELETE FROM {TABLE}")

    def insert(self, conn: Connection, documents: Sequence[tuple[str, Document]]) -> None:
        if documents:
            conn.execute(
                text(
                    f"INSERT INTO {TABLE} (image_id, document) VALUES (:image_id, {_DOCUMENT}) "
                    "ON CONFLICT (image_id) DO UPDATE SET document = excluded.document"
                ),
                [
                    {
                        "image_id": image_id,
                        **{
                            column: plain_words(getattr(document, column))
                            for column, _ in _WEIGHTED
                        },
                    }
                    for image_id, document in documents
                ],
            )

    def ranked(self, terms: Sequence[str]) -> Subquery:
        query, values = _tsquery(terms, "q")
        return (
            text(
                # As double precision: ts_rank's real, printed and read back, would not equal
                # itself in the next page's `score < :cursor`.
                f"SELECT image_id, CAST(ts_rank('{RANK_WEIGHTS}', document, {query}, "
                f"{RANK_NORMALIZATION}) AS DOUBLE PRECISION) AS score "
                f"FROM {TABLE} WHERE document @@ {query}"
            )
            .bindparams(**values)
            .columns(image_id=String, score=Float)
            .subquery("ranked")
        )

    def ranked_any(self, terms: Sequence[str]) -> Subquery:
        values = {f"q{n}": plain_words(term) for n, term in enumerate(terms)}
        each = " UNION ALL ".join(
            f"SELECT image_id, CAST(ts_rank('{RANK_WEIGHTS}', document, {query}, "
            f"{RANK_NORMALIZATION}) AS DOUBLE PRECISION) AS relevance "
            f"FROM {TABLE} WHERE document @@ {query}"
            for query in (f"phraseto_tsquery('{CONFIG}', :{name})" for name in values)
        )
        return (
            text(
                f"SELECT image_id, {any_score('relevance')} AS score FROM ({each}) AS matched "
                "GROUP BY image_id"
            )
            .bindparams(**values)
            .columns(image_id=String, score=Float)
            .subquery("ranked")
        )

    def count(self, conn: Connection, terms: Sequence[str], *, every: bool) -> int:
        query, values = _tsquery(terms, "q", "&&" if every else "||")
        found = conn.execute(
            text(f"SELECT count(*) FROM {TABLE} WHERE document @@ {query}"), values
        ).scalar_one()
        return int(found)

    def filtered(self, tags: Sequence[str], labels: Sequence[str]) -> ColumnElement[bool]:
        conditions = []
        values: dict[str, str] = {}
        for expression, phrases, prefix in ((TAGS, tags, "tag"), (LABELS, labels, "label")):
            if phrases:
                query, found = _tsquery(phrases, prefix)
                conditions.append(f"{expression} @@ {query}")
                values.update(found)
        documents = text(
            f"SELECT image_id FROM {TABLE} WHERE {' AND '.join(conditions)}"
        ).bindparams(**values)
        return t.images.c.id.in_(documents.columns(image_id=String))


def _tsquery(
    phrases: Sequence[str], prefix: str, operator: str = "&&"
) -> tuple[str, dict[str, Any]]:
    """Every phrase required (`phraseto_tsquery(...) && ...`; with `||`, any), and the values
    it binds."""
    values = {f"{prefix}{n}": plain_words(phrase) for n, phrase in enumerate(phrases)}
    query = f" {operator} ".join(f"phraseto_tsquery('{CONFIG}', :{name})" for name in values)
    return f"({query})", values
