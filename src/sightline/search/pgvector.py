"""Nearest neighbours inside PostgreSQL, with pgvector (migration 0006), for every API replica.

Each `image_vectors` row keeps its float32 bytes (what the catalog reads back) and, where the
extension is installed, the same vector as an untyped `halfvec` column, `embedding`: half the
size, the precision the in-process index stores too, and typeless because the
dimensions differ per feature (1280 `embedding`, 384 `semantic`, a user's CLIP model its own).
Any table of vectors laid out alike is searched the same way (a `VectorTable`): the faces
domain's `faces` has its column since migration 0016.

Spaces never mix: one HNSW index (cosine) per feature and dimensions, a partial index on
`embedding::halfvec(dims)` for the rows of that feature and size, made on first use by whichever
process needs it (`CREATE INDEX CONCURRENTLY`: writers go on meanwhile, searches read exactly
until it is ready). A model's versions share their feature's index; a search asks for one version
and pgvector's iterative scan walks on until it has `k` rows of it, so a space in the middle of a
model upgrade still fills its answer. Deleted images leave with their rows (a cascading foreign
key): there is nothing to forget, as there is for the in-process index. A table's indexes are
named after it (`tables.hnsw_index_prefix`), so two tables' never clash.

HNSW parameters: 16 links, 128 candidates while building (pgvector builds inside the database,
once, and adds rows as they are written), 256 while searching: recall@10 0.95-0.98 at 1M
clustered vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Select,
    Table,
    bindparam,
    cast,
    func,
    literal,
    select,
    text,
)

from sightline.errors import ConfigurationError
from sightline.storage import tables as t
from sightline.storage.database import SCALE_EXTRA, Database

MAX_STORED_DIMS = 16_000  # halfvec's limit; larger vectors are searched in process only
MAX_INDEXED_DIMS = 4_000  # HNSW's limit on halfvec; larger ones are searched exactly
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256


@dataclass(frozen=True)
class VectorTable:
    """A table of vectors pgvector searches: `feature`, `version`, `collection` and `embedding`
    columns, and `key`, what a search answers (an image's id, a face's). `dims`: the column of
    each row's size where the table keeps one, else the size is read off `embedding`.
    `build_lock`: the advisory lock under which one process builds a missing index of the table,
    a number of its own (another table's builds do not hold its searches up)."""

    table: Table
    key: str
    dims: str | None
    build_lock: int


IMAGE_VECTORS = VectorTable(t.image_vectors, key="image_id", dims="dims", build_lock=7316458)


def has_pgvector(conn: Connection, table: Table) -> bool:
    """Whether this database keeps the table's vectors for pgvector too (its migration found the
    extension: 0006 for `image_vectors`, 0016 for `faces`)."""
    found = conn.scalar(
        text(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = :table AND column_name = :column"
        ),
        {"table": table.name, "column": t.PGVECTOR_COLUMN},
    )
    return bool(found)


def index_name(table: str, feature: str, dims: int) -> str:
    digest = hashlib.sha256(f"{feature}\0{dims}".encode()).hexdigest()[:16]
    return f"{t.hnsw_index_prefix(table)}{digest}"


class PgVectorSearch:
    """`VectorSearch`'s answers from PostgreSQL, over one `VectorTable` (see the module
    docstring)."""

    def __init__(self, db: Database, vectors: VectorTable) -> None:
        try:
            from pgvector.sqlalchemy import HALFVEC
        except ImportError as exc:
            raise ConfigurationError(
                f"This database has pgvector: searching it needs the pgvector package: "
                f"{SCALE_EXTRA}"
            ) from exc
        self.db = db
        self.vectors = vectors
        self._halfvec = HALFVEC
        # The table with the column its migration adds by hand (outside `tables.metadata`).
        self.table = vectors.table.to_metadata(MetaData())
        self.table.append_column(Column(t.PGVECTOR_COLUMN, HALFVEC()))
        # A row's size, in SQL and as DDL: the partial indexes' predicate and the searches'
        # must be the same expression for the planner to see that an index applies.
        self._dims_sql = vectors.dims or f"vector_dims({t.PGVECTOR_COLUMN})"
        embedding = self.table.c[t.PGVECTOR_COLUMN]
        self._dims = self.table.c[vectors.dims] if vectors.dims else func.vector_dims(embedding)
        self._indexed: set[tuple[str, int]] = set()

    def stored(self, values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32] | None:
        """The `embedding` column's value for a vector: itself, unless halfvec cannot hold it."""
        return values if values.size <= MAX_STORED_DIMS else None

    def nearest(
        self,
        feature: str,
        version: str,
        vector: npt.ArrayLike,
        k: int,
        exclude: Collection[str] = (),
        collection: str | None = None,
    ) -> list[tuple[str, float]]:
        query = np.asarray(vector, dtype=np.float32).ravel()
        dims = int(query.size)
        if k <= 0 or dims > MAX_STORED_DIMS:
            return []
        self._ensure_index(feature, dims)
        with self.db.read() as conn:
            conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {EXPANSION_SEARCH}")
            conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = strict_order")
            rows = conn.execute(
                self.statement(feature, version, query, k, exclude, collection)
            ).all()
        return [(row.key, float(row.score)) for row in rows]

    def statement(
        self,
        feature: str,
        version: str,
        query: npt.NDArray[np.float32],
        k: int,
        exclude: Collection[str] = (),
        collection: str | None = None,
    ) -> Select[tuple[str, float]]:
        """The query `nearest` runs, ordered by the expression the space's index is made on.
        Within a collection the index's walk goes on past other collections' rows (iterative
        scan) until it has `k`; for a small collection the planner may rather read its rows by
        `ix_image_vectors_collection_space` and compare them all."""
        space = self._halfvec(query.size)
        columns = self.table.c
        key = columns[self.vectors.key]
        distance = cast(columns[t.PGVECTOR_COLUMN], space).cosine_distance(
            cast(bindparam("query", query, type_=space), space)
        )
        statement = (
            select(key.label("key"), (1 - distance).label("score"))
            # Literal values: the planner must see that the feature's partial index applies.
            .where(columns.feature == bindparam("feature", feature, literal_execute=True))
            .where(self._dims == bindparam("dims", int(query.size), literal_execute=True))
            .where(columns.version == version)
            .order_by(distance)
            .limit(k)
        )
        if exclude:
            statement = statement.where(key.not_in(list(exclude)))
        if collection is not None:
            statement = statement.where(columns.collection == collection)
        return statement

    def prepare(self, feature: str, version: str) -> None:
        """Make the indexes the space's searches will use (e.g. at start-up, in the background)."""
        columns = self.table.c
        with self.db.read() as conn:
            sizes = conn.scalars(
                select(self._dims)
                .where(columns.feature == feature, columns.version == version)
                .distinct()
            ).all()
        for dims in sizes:
            if dims is not None:  # no embedding: more dimensions than halfvec holds
                self._ensure_index(feature, dims)

    def _ensure_index(self, feature: str, dims: int) -> None:
        if (feature, dims) in self._indexed or dims > MAX_INDEXED_DIMS:
            return
        name = index_name(self.table.name, feature, dims)
        lock = self.vectors.build_lock
        # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
        with self.db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if _is_valid(conn, name):
                self._indexed.add((feature, dims))
                return
            if not conn.scalar(select(func.pg_try_advisory_lock(lock))):
                return  # another process is building one: search exactly meanwhile
            try:
                if _is_valid(conn, name) is False:  # a build that died half-way
                    conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                predicate = f"feature = {_literal(conn, feature)} AND {self._dims_sql} = {dims}"
                conn.exec_driver_sql(
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {self.table.name} "
                    f"USING hnsw (({t.PGVECTOR_COLUMN}::halfvec({dims})) halfvec_cosine_ops) "
                    f"WITH (m = {CONNECTIVITY}, ef_construction = {EXPANSION_ADD}) "
                    f"WHERE {predicate}"
                )
            finally:
                conn.scalar(select(func.pg_advisory_unlock(lock)))
        self._indexed.add((feature, dims))


def _is_valid(conn: Connection, name: str) -> bool | None:
    """True for a usable index, False for a broken one, None if there is none."""
    valid: bool | None = conn.scalar(
        text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name"
        ),
        {"name": name},
    )
    return valid


def _literal(conn: Connection, value: Any) -> str:
    """A value quoted for a statement that takes no parameters (DDL)."""
    return str(literal(value).compile(conn, compile_kwargs={"literal_binds": True}))
