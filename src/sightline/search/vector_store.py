"""Each image's vectors (embeddings) by feature, kept in step with its results, read back in
write order by the in-process indexes, or searched by pgvector inside PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection, delete, func, insert, select

from sightline.collection import DEFAULT_COLLECTION
from sightline.indexing import Indexer
from sightline.search.pgvector import IMAGE_VECTORS, PgVectorSearch, has_pgvector
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.records import (
    TERMINAL_FEATURE_STATES,
    FeatureState,
    FeatureStatus,
    Vector,
)
from sightline.storage.statements import chunks, hold_seq_order


@dataclass(frozen=True)
class StoredVector:
    """A feature's vector for one image (of `collection`); `seq` orders writes, so readers catch
    up by it."""

    seq: int
    image_id: str
    vector: Vector
    collection: str = DEFAULT_COLLECTION


class NearestVectors(Protocol):
    """Nearest-neighbour search that a catalog's database runs itself (pgvector), shared by every
    process; catalogs without one are searched by an index in each process."""

    def nearest(
        self,
        feature: str,
        version: str,
        vector: Vector,
        k: int,
        exclude: Collection[str] = (),
        collection: str | None = None,
    ) -> list[tuple[str, float]]:
        """Up to `k` (image id, cosine similarity) of this space, most similar first, none of
        them deleted or excluded; with `collection`, only images of that collection."""

    def prepare(self, feature: str, version: str) -> None:
        """Get the space ready for fast searches (build what it needs), e.g. at start-up."""


class VectorStore(Protocol):
    """Read side of the stored vectors, for the vector indexes and the searches."""

    def vectors_after(
        self, feature: str, version: str, after_seq: int, limit: int
    ) -> list[StoredVector]:
        """Vectors of one space (feature, version) written after `after_seq`, in seq order,
        with their images' collections."""

    def vector_of(self, image_id: str, feature: str) -> tuple[str, Vector] | None:
        """The image's vector for this feature, with the version that made it."""

    def vectors_of(self, image_ids: Sequence[str], feature: str) -> dict[str, tuple[str, Vector]]:
        """`vector_of` for many images at once; images without one are left out."""

    def vector_versions(self, feature: str, collection: str | None = None) -> dict[str, int]:
        """How many images (of `collection`, or of every one) have a vector of this feature, per
        version."""

    def images_with_other_vectors(
        self, feature: str, version: str, after_image_id: str, limit: int
    ) -> list[str]:
        """Images whose vector of this feature was made by another version, in id order."""

    def vector_search(self) -> NearestVectors | None:
        """The database's own nearest-neighbour search, if it has one."""


class SQLVectorStore:
    """The vectors table; a `ResultIndex` of the image store (`refresh`). `indexer` reads the
    vector each stored result declares (`sightline.indexing`)."""

    def __init__(self, db: Database, indexer: Indexer) -> None:
        self.db = db
        self.indexer = indexer
        self._pgvector: PgVectorSearch | None = None
        if not db.is_sqlite:
            with db.read() as conn:
                if has_pgvector(conn, t.image_vectors):
                    self._pgvector = PgVectorSearch(db, IMAGE_VECTORS)

    def vectors_after(
        self, feature: str, version: str, after_seq: int, limit: int
    ) -> list[StoredVector]:
        vectors = t.image_vectors.c
        with self.db.read() as conn:
            rows = conn.execute(
                select(vectors.seq, vectors.image_id, vectors.vector, vectors.collection)
                .where(vectors.feature == feature, vectors.version == version)
                .where(vectors.seq > after_seq)
                .order_by(vectors.seq)
                .limit(limit)
            ).all()
        return [
            StoredVector(row.seq, row.image_id, _vector(row.vector), row.collection) for row in rows
        ]

    def vector_of(self, image_id: str, feature: str) -> tuple[str, Vector] | None:
        vectors = t.image_vectors.c
        with self.db.read() as conn:
            row = conn.execute(
                select(vectors.version, vectors.vector).where(
                    vectors.image_id == image_id, vectors.feature == feature
                )
            ).first()
        return None if row is None else (row.version, _vector(row.vector))

    def vectors_of(self, image_ids: Sequence[str], feature: str) -> dict[str, tuple[str, Vector]]:
        vectors = t.image_vectors.c
        found: dict[str, tuple[str, Vector]] = {}
        with self.db.read() as conn:
            for chunk in chunks(image_ids):
                rows = conn.execute(
                    select(vectors.image_id, vectors.version, vectors.vector).where(
                        vectors.feature == feature, vectors.image_id.in_(chunk)
                    )
                ).all()
                found.update({row.image_id: (row.version, _vector(row.vector)) for row in rows})
        return found

    def images_with_other_vectors(
        self, feature: str, version: str, after_image_id: str, limit: int
    ) -> list[str]:
        vectors = t.image_vectors.c
        with self.db.read() as conn:
            return list(
                conn.scalars(
                    select(vectors.image_id)
                    .where(
                        vectors.feature == feature,
                        vectors.version != version,
                        vectors.image_id > after_image_id,
                    )
                    .order_by(vectors.image_id)
                    .limit(limit)
                )
            )

    def vector_search(self) -> NearestVectors | None:
        return self._pgvector

    def vector_versions(self, feature: str, collection: str | None = None) -> dict[str, int]:
        vectors = t.image_vectors.c
        statement = select(vectors.version, func.count()).where(vectors.feature == feature)
        if collection is not None:
            statement = statement.where(vectors.collection == collection)
        with self.db.read() as conn:
            rows = conn.execute(statement.group_by(vectors.version)).all()
        return {version: count for version, count in rows}

    def added(self, conn: Connection, images: Sequence[tuple[str, str | None]]) -> None:
        """A new image has no vector: its features are pending."""

    def refresh(self, conn: Connection, image_id: str, changed: Sequence[FeatureState]) -> None:
        """Keep `image_vectors` in step with the results: a finished feature's vector replaces
        the old one under a new seq (so indexes see the change); a failed one removes it. A
        pending or running feature keeps its last vector until it ends."""
        collection: str | None = None
        for outcome in changed:
            if outcome.status not in TERMINAL_FEATURE_STATES:
                continue
            entries = self.indexer(outcome.feature, outcome.result) if outcome.result else None
            vector = None if entries is None else entries.vector
            if outcome.status is FeatureStatus.DONE and vector is None:
                continue
            conn.execute(
                delete(t.image_vectors).where(
                    t.image_vectors.c.image_id == image_id,
                    t.image_vectors.c.feature == outcome.feature,
                )
            )
            if outcome.status is FeatureStatus.DONE and vector:
                if collection is None:
                    collection = conn.scalar(
                        select(t.images.c.collection).where(t.images.c.id == image_id)
                    )
                values = np.asarray(vector, dtype="<f4")
                row: dict[str, Any] = {
                    "image_id": image_id,
                    "collection": collection,
                    "feature": outcome.feature,
                    "version": outcome.version,
                    "dims": int(values.size),
                    "vector": values.tobytes(),
                }
                table = t.image_vectors
                if self._pgvector is not None:
                    table = self._pgvector.table
                    row[t.PGVECTOR_COLUMN] = self._pgvector.stored(values)
                hold_seq_order(conn, t.image_vectors)
                conn.execute(insert(table).values(**row))


def _vector(data: bytes) -> Vector:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
