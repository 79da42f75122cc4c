"""Nearest neighbours inside PostgreSQL, with pgvector (migration 0006), for every API replica.

Each `image_vectors` row keeps its float32 bytes (what the catalog reads back) and, where the
extension is installed, the same vector as an untyped `halfvec` column, `embedding`: half the
size, the precision the in-process index stores too, and typeless because the
dimensions differ per feature (1280 `embedding`, 384 `semantic`, a user's CLIP model its own).

Spaces never mix: one HNSW index (cosine) per feature and dimensions, a partial index on
`embedding::halfvec(dims)` for the rows of that feature and size, made on first use by whichever
process needs it (`CREATE INDEX CONCURRENTLY`: writers go on meanwhile, searches read exactly
until it is ready). A model's versions share their feature's index; a search asks for one version
and pgvector's iterative scan walks on until it has `k` rows of it, so a space in the middle of a
model upgrade still fills its answer. Deleted images leave with their rows (a cascading foreign
key): there is nothing to forget, as there is for the in-process index.

HNSW parameters: 16 links, 128 candidates while building (pgvector builds inside the database,
once, and adds rows as they are written), 256 while searching: recall@10 0.95-0.98 at 1M
clustered vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Select,
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
BUILD_LOCK = 7316458  # advisory lock: one process builds a missing index


def has_pgvector(conn: Connection) -> bool:
    """Whether this database stores vectors for pgvector (migration 0006 found the extension)."""
    found = conn.scalar(
        text(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = :table AND column_name = :column"
        ),
        {"table": t.image_vectors.name, "column": t.PGVECTOR_COLUMN},
    )
    return bool(found)


def index_name(feature: str, dims: int) -> str:
    digest = hashlib.sha256(f"{feature}\0{dims}".encode()).hexdigest()[:16]
    return f"{t.HNSW_INDEX_PREFIX}{digest}"


class PgVectorSearch:
    """`VectorSearch`'s answers from PostgreSQL (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        try:
            from pgvector.sqlalchemy import HALFVEC
        except ImportError as exc:
            raise ConfigurationError(
                f"This database has pgvector: searching it needs the pgvector package: "
                f"{SCALE_EXTRA}"
            ) from exc
        self.db = db
        self._halfvec = HALFVEC
        # `image_vectors` with the column migration 0006 adds by hand (outside `tables.metadata`).
        self.table = t.image_vectors.to_metadata(MetaData())
        self.table.append_column(Column(t.PGVECTOR_COLUMN, HALFVEC()))
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
        return [(row.image_id, float(row.score)) for row in rows]

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
        distance = cast(columns.embedding, space).cosine_distance(
            cast(bindparam("query", query, type_=space), space)
        )
        statement = (
            select(columns.image_id, (1 - distance).label("score"))
            # Literal values: the planner must see that the feature's partial index applies.
            .where(columns.feature == bindparam("feature", feature, literal_execute=True))
            .where(columns.dims == bindparam("dims", int(query.size), literal_execute=True))
            .where(columns.version == version)
            .order_by(distance)
            .limit(k)
        )
        if exclude:
            statement = statement.where(columns.image_id.not_in(list(exclude)))
        if collection is not None:
            statement = statement.where(columns.collection == collection)
        return statement

    def prepare(self, feature: str, version: str) -> None:
        """Make the indexes the space's searches will use (e.g. at start-up, in the background)."""
        columns = t.image_vectors.c
        with self.db.read() as conn:
            sizes = conn.scalars(
                select(columns.dims)
                .where(columns.feature == feature, columns.version == version)
                .distinct()
            ).all()
        for dims in sizes:
            self._ensure_index(feature, dims)

    def _ensure_index(self, feature: str, dims: int) -> None:
        if (feature, dims) in self._indexed or dims > MAX_INDEXED_DIMS:
            return
        name = index_name(feature, dims)
        # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
        with self.db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if _is_valid(conn, name):
                self._indexed.add((feature, dims))
                return
            if not conn.scalar(select(func.pg_try_advisory_lock(BUILD_LOCK))):
                return  # another process is building one: search exactly meanwhile
            try:
                if _is_valid(conn, name) is False:  # a build that died half-way
                    conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                predicate = f"feature = {_literal(conn, feature)} AND dims = {dims}"
                conn.exec_driver_sql(
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {self.table.name} "
                    f"USING hnsw (({t.PGVECTOR_COLUMN}::halfvec({dims})) halfvec_cosine_ops) "
                    f"WITH (m = {CONNECTIVITY}, ef_construction = {EXPANSION_ADD}) "
                    f"WHERE {predicate}"
                )
            finally:
                conn.scalar(select(func.pg_advisory_unlock(BUILD_LOCK)))
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
