"""The full-text index on SQLite: the FTS5 table `image_text` (migration 0003).

Each image's document is the FTS5 row whose rowid is the image row's own SQLite rowid, so
replacing or dropping a document is a rowid operation, never a scan, and ranked matches join
their images by rowid.

Tokens (`porter unicode61 remove_diacritics 2`): case and accents are ignored, English endings
are stemmed ("dresses" finds "dress"), and punctuation splits tokens. A word or phrase of the
query is searched as one quoted FTS5 phrase, so nothing in a query is an FTS5 operator.

Score: `bm25()` with column weights labels 8 > tags 2 > text = filename 1 > weak_tags 0.5 (the
user's own labels mean most; OCR text is long and noisy, but there for sure), negated so that
higher is better. All of it stays inside FTS5: one `bm25()` call, no join to results to rank.
Any-word matching runs one `bm25()` query per word and sums them (`documents.any_score`).

Rowids: `images` has a text primary key, so its rowid is implicit. A trigger deletes an image's
document with its row (SQLite hands a freed rowid to the next image), so only a new image and
changed results need a refresh. VACUUM keeps the rowids of a table with an index, as `images`
is; copying `images` into a new table (Alembic's SQLite batch mode) renumbers them and drops
the trigger: such a migration must recreate the trigger and rebuild the documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection, Float, Integer, String, Subquery, literal_column, text
from sqlalchemy.sql.elements import ColumnElement

from sightline.search.documents import COLUMNS, Document, any_score
from sightline.storage import tables as t

TABLE = t.TEXT_INDEX_TABLE
WEIGHTS = (8.0, 2.0, 0.5, 1.0, 1.0)  # bm25 weights in column order

# Statements built once: SQLAlchemy then compiles each once, not per document.
DELETE_DOCUMENT = text(
    f"DELETE FROM {TABLE} WHERE rowid = (SELECT rowid FROM images WHERE id = :image_id)"
)
INSERT_DOCUMENT = text(
    f"INSERT INTO {TABLE} (rowid, {', '.join(COLUMNS)}) "
    f"SELECT rowid, {', '.join(':' + column for column in COLUMNS)} "
    "FROM images WHERE id = :image_id"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_IMAGE_ROWID: ColumnElement[int] = literal_column("images.rowid", Integer)


class FTS5Index:
    def replace(self, conn: Connection, image_id: str, document: Document) -> None:
        conn.execute(DELETE_DOCUMENT, {"image_id": image_id})
        self.insert(conn, [(image_id, document)])

    def clear(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"DELETE FROM {TABLE}")

    def insert(self, conn: Connection, documents: Sequence[tuple[str, Document]]) -> None:
        if documents:
            conn.execute(
                INSERT_DOCUMENT,
                [
                    {"image_id": image_id, **{c: getattr(document, c) for c in COLUMNS}}
                    for image_id, document in documents
                ],
            )

    def ranked(self, terms: Sequence[str]) -> Subquery:
        weights = ", ".join(str(weight) for weight in WEIGHTS)
        return (
            text(
                f"SELECT images.id AS image_id, -bm25({TABLE}, {weights}) AS score "
                f"FROM {TABLE} JOIN images ON images.rowid = {TABLE}.rowid "
                f"WHERE {TABLE} MATCH :match"
            )
            .bindparams(match=" AND ".join(_phrase(term) for term in terms))
            .columns(image_id=String, score=Float)
            .subquery("ranked")
        )

    def ranked_any(self, terms: Sequence[str]) -> Subquery:
        # One full-text query per term: FTS5 does not say which phrases of an OR matched.
        weights = ", ".join(str(weight) for weight in WEIGHTS)
        each = " UNION ALL ".join(
            f"SELECT rowid AS document, -bm25({TABLE}, {weights}) AS relevance "
            f"FROM {TABLE} WHERE {TABLE} MATCH :term{n}"
            for n in range(len(terms))
        )
        return (
            text(
                f"SELECT images.id AS image_id, {any_score('matched.relevance')} AS score "
                f"FROM ({each}) AS matched JOIN images ON images.rowid = matched.document "
                "GROUP BY images.id"
            )
            .bindparams(**{f"term{n}": _phrase(term) for n, term in enumerate(terms)})
            .columns(image_id=String, score=Float)
            .subquery("ranked")
        )

    def count(self, conn: Connection, terms: Sequence[str], *, every: bool) -> int:
        match = (" AND " if every else " OR ").join(_phrase(term) for term in terms)
        found = conn.execute(
            text(f"SELECT count(*) FROM {TABLE} WHERE {TABLE} MATCH :match"), {"match": match}
        ).scalar_one()
        return int(found)

    def filtered(self, tags: Sequence[str], labels: Sequence[str]) -> ColumnElement[bool]:
        parts = [
            f"{columns} : {_phrase(value)}"
            for columns, values in (("{tags weak_tags}", tags), ("labels", labels))
            for value in values
        ]
        documents = text(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :filters").bindparams(
            filters=" AND ".join(parts)
        )
        return _IMAGE_ROWID.in_(documents.columns(rowid=Integer))


def _phrase(term: str) -> str:
    """`term` as one FTS5 string: a phrase of its tokens. FTS5 reads a NUL as the end of the
    query, so control characters become spaces (they separate tokens anyway)."""
    return '"' + _CONTROL.sub(" ", term).replace('"', '""') + '"'
