"""The faces domain's tables on SQLAlchemy Core, in the catalog's database (SQLite or PostgreSQL).

`SQLFaceStore` is also a `ResultIndex` of the image store: the faces of an image's result are
written in the transaction that stores the result, as the search documents and vectors are. A
result analysed again keeps the ids, clusters, people and marks of the faces it finds in the same
boxes (the same detector finds the same boxes), so re-analysis does not undo what users said.

On PostgreSQL with pgvector (migration 0016) each face keeps its descriptor as an `embedding`
too, and the database answers face searches (`search.pgvector`): deleted faces leave its index
with their rows, and no process keeps an index of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from sightline.faces.store import (
    FACE_PREFIX,
    Box,
    ClusterRecord,
    FaceQuery,
    FaceRecord,
    PersonRecord,
)
from sightline.ids import time_sorted_id
from sightline.indexing import FaceEntry, Indexer
from sightline.search.pgvector import PgVectorSearch, VectorTable, has_pgvector
from sightline.search.vector_store import NearestVectors, StoredVector
from sightline.storage import change_marks
from sightline.storage import tables as t
from sightline.storage.change_marks import ChangeMark
from sightline.storage.database import Database
from sightline.storage.records import TERMINAL_FEATURE_STATES, FeatureState, FeatureStatus, Vector
from sightline.storage.statements import chunks, hold_seq_order

CLUSTER_SAMPLE = 6
# Its build lock is the next number after `image_vectors`' (`search.pgvector.IMAGE_VECTORS`).
FACE_VECTORS = VectorTable(t.faces, key="id", dims=None, build_lock=7316459)
# Renewed by a purge: every process's face index then drops what it holds.
PURGE_MARK = "faces_purged"
faces_c = t.faces.c
FACE_COLUMNS = (
    faces_c.id,
    faces_c.image_id,
    faces_c.collection,
    faces_c.feature,
    faces_c.position,
    faces_c.box,
    faces_c.confidence,
    faces_c.version,
    faces_c.cluster_id,
    faces_c.person_id,
    faces_c.enrolled,
    faces_c.created_at,
)
# Faces not yet in a cluster, oldest first (after every analysis that stores faces): read
# through the partial index `ix_faces_ungrouped`, not by walking every face.
UNGROUPED = (
    select(*FACE_COLUMNS, faces_c.vector)
    .where(faces_c.cluster_id.is_(None))
    .order_by(faces_c.seq)
    .limit(bindparam("limit"))
)


def _now() -> datetime:
    return datetime.now(UTC)


def new_face_id() -> str:
    return time_sorted_id(FACE_PREFIX)


class SQLFaceStore:
    def __init__(self, db: Database, indexer: Indexer) -> None:
        self.db = db
        self.indexer = indexer
        self._pgvector: PgVectorSearch | None = None
        if not db.is_sqlite:
            with db.read() as conn:
                if has_pgvector(conn, t.faces):
                    self._pgvector = PgVectorSearch(db, FACE_VECTORS)

    # -- the image store's ResultIndex -----------------------------------------------------

    def added(self, conn: Connection, images: Sequence[tuple[str, str | None]]) -> None:
        """A new image has no faces: its features are pending."""

    def refresh(self, conn: Connection, image_id: str, changed: Sequence[FeatureState]) -> None:
        """Keep `faces` in step with the results: a finished result's faces replace the
        feature's old ones; a failed one removes them. Pending and running keep them."""
        for outcome in changed:
            if outcome.status not in TERMINAL_FEATURE_STATES:
                continue
            entries = self.indexer(outcome.feature, outcome.result) if outcome.result else None
            found = None if entries is None else entries.faces
            if outcome.status is FeatureStatus.DONE and found is None:
                continue  # a feature without faces
            self._replace(conn, image_id, outcome, found or ())

    def _replace(
        self, conn: Connection, image_id: str, outcome: FeatureState, found: Sequence[FaceEntry]
    ) -> None:
        of_result = and_(faces_c.image_id == image_id, faces_c.feature == outcome.feature)
        old = {row.position: row for row in conn.execute(select(*FACE_COLUMNS).where(of_result))}
        marks = _separations(conn, [row.id for row in old.values()])
        if old:
            conn.execute(delete(t.faces).where(of_result))
        if not found:
            return
        collection = conn.scalar(select(t.images.c.collection).where(t.images.c.id == image_id))
        now = _now()
        rows: list[dict[str, Any]] = []
        for entry in found:
            kept = old.get(entry.position)
            if kept is not None and _box_of(kept.box) != Box(*entry.box):
                kept = None  # another face in that place: nothing said of the old one holds
            values = np.asarray(entry.vector, dtype="<f4")
            rows.append(
                {
                    "id": kept.id if kept else new_face_id(),
                    "image_id": image_id,
                    "collection": collection,
                    "feature": outcome.feature,
                    "position": entry.position,
                    "box": dict(zip("xywh", entry.box, strict=True)),
                    "confidence": entry.confidence,
                    "version": outcome.version,
                    "vector": values.tobytes(),
                    "cluster_id": kept.cluster_id if kept else None,
                    "person_id": kept.person_id if kept else None,
                    "enrolled": kept.enrolled if kept else False,
                    "created_at": kept.created_at if kept else now,
                }
            )
            if self._pgvector is not None:
                rows[-1][t.PGVECTOR_COLUMN] = self._pgvector.stored(values)
        hold_seq_order(conn, t.faces)
        table = t.faces if self._pgvector is None else self._pgvector.table
        conn.execute(insert(table), rows)
        kept_ids = {row["id"] for row in rows}
        restored = [mark for mark in marks if mark["face_id"] in kept_ids]
        if restored:
            conn.execute(insert(t.face_separations), restored)

    # -- reads -----------------------------------------------------------------------------

    def faces(self, query: FaceQuery) -> list[FaceRecord]:
        statement = select(*FACE_COLUMNS).order_by(faces_c.id).limit(query.limit)
        if query.collection is not None:
            statement = statement.where(faces_c.collection == query.collection)
        if query.image_id is not None:
            statement = statement.where(faces_c.image_id == query.image_id)
        if query.person_id is not None:
            statement = statement.where(faces_c.person_id == query.person_id)
        if query.cluster_id is not None:
            statement = statement.where(faces_c.cluster_id == query.cluster_id)
        if query.after_id is not None:
            statement = statement.where(faces_c.id > query.after_id)
        with self.db.read() as conn:
            return [_face(row) for row in conn.execute(statement)]

    def faces_by_id(self, face_ids: Sequence[str]) -> dict[str, FaceRecord]:
        found: dict[str, FaceRecord] = {}
        with self.db.read() as conn:
            for chunk in chunks(list(face_ids)):
                rows = conn.execute(select(*FACE_COLUMNS).where(faces_c.id.in_(chunk)))
                found.update((row.id, _face(row)) for row in rows)
        return found

    def descriptor(self, face_id: str) -> tuple[FaceRecord, Vector] | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(*FACE_COLUMNS, faces_c.vector).where(faces_c.id == face_id)
            ).first()
        return None if row is None else (_face(row), _vector(row.vector))

    def ungrouped(self, limit: int) -> list[tuple[FaceRecord, Vector]]:
        with self.db.read() as conn:
            rows = conn.execute(UNGROUPED, {"limit": limit}).all()
        return [(_face(row), _vector(row.vector)) for row in rows]

    def separated(self, face_id: str) -> set[str]:
        marks = t.face_separations.c
        with self.db.read() as conn:
            return set(conn.scalars(select(marks.other_id).where(marks.face_id == face_id)))

    def clusters(
        self, collection: str | None, after_id: str | None, limit: int
    ) -> list[ClusterRecord]:
        statement = (
            select(faces_c.cluster_id, faces_c.collection, func.count())
            .where(faces_c.cluster_id.is_not(None))
            .group_by(faces_c.cluster_id, faces_c.collection)
            .order_by(faces_c.cluster_id)
            .limit(limit)
        )
        if collection is not None:
            statement = statement.where(faces_c.collection == collection)
        if after_id is not None:
            statement = statement.where(faces_c.cluster_id > after_id)
        with self.db.read() as conn:
            return [
                self._cluster(conn, cluster_id, in_collection, count)
                for cluster_id, in_collection, count in conn.execute(statement).all()
            ]

    def cluster(self, cluster_id: str, collection: str | None) -> ClusterRecord | None:
        statement = select(faces_c.collection, func.count()).where(faces_c.cluster_id == cluster_id)
        if collection is not None:
            statement = statement.where(faces_c.collection == collection)
        with self.db.read() as conn:
            row = conn.execute(statement.group_by(faces_c.collection)).first()
            return None if row is None else self._cluster(conn, cluster_id, row[0], row[1])

    def _cluster(
        self, conn: Connection, cluster_id: str, collection: str, count: int
    ) -> ClusterRecord:
        sample = conn.scalars(
            select(faces_c.id)
            .where(faces_c.cluster_id == cluster_id)
            .order_by(faces_c.confidence.desc(), faces_c.id)
            .limit(CLUSTER_SAMPLE)
        ).all()
        person = conn.execute(
            select(faces_c.person_id, func.count().label("n"))
            .where(faces_c.cluster_id == cluster_id, faces_c.person_id.is_not(None))
            .group_by(faces_c.person_id)
            .order_by(func.count().desc(), faces_c.person_id)
            .limit(1)
        ).first()
        return ClusterRecord(
            cluster_id, collection, count, list(sample), None if person is None else person[0]
        )

    # -- grouping --------------------------------------------------------------------------

    def group(self, face_id: str, cluster_id: str, person_id: str | None) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(t.faces)
                .where(faces_c.id == face_id, faces_c.cluster_id.is_(None))
                .values(cluster_id=cluster_id, person_id=person_id, enrolled=False)
            )

    def move(
        self, face_ids: Sequence[str], targets: Sequence[str], *, separate: bool = False
    ) -> int:
        """Move each face to its target cluster. `separate`: mark each "not the same" as the
        cluster it leaves, and forget a person it was only matched to."""
        moved = 0
        with self.db.write() as conn:
            for face_id, target in zip(face_ids, targets, strict=True):
                row = conn.execute(
                    select(faces_c.cluster_id, faces_c.person_id, faces_c.enrolled).where(
                        faces_c.id == face_id
                    )
                ).first()
                if row is None:
                    continue
                values: dict[str, Any] = {"cluster_id": target}
                if separate:
                    if row.cluster_id is not None:
                        _separate(conn, face_id, row.cluster_id)
                    if row.person_id is not None and not row.enrolled:
                        _separate(conn, face_id, row.person_id)
                        values["person_id"] = None
                conn.execute(update(t.faces).where(faces_c.id == face_id).values(**values))
                moved += 1
        return moved

    def merge_clusters(self, target: str, others: Sequence[str], collection: str) -> int:
        with self.db.write() as conn:
            return conn.execute(
                update(t.faces)
                .where(faces_c.cluster_id.in_(list(others)), faces_c.collection == collection)
                .values(cluster_id=target)
            ).rowcount

    # -- people ----------------------------------------------------------------------------

    def create_person(self, person_id: str, name: str, collection: str) -> PersonRecord:
        now = _now()
        with self.db.write() as conn:
            conn.execute(
                insert(t.people).values(
                    id=person_id, collection=collection, name=name, created_at=now, updated_at=now
                )
            )
            return self._person(conn, person_id)

    def person(self, person_id: str, collection: str | None) -> PersonRecord | None:
        with self.db.read() as conn:
            found = conn.scalar(_people_where(select(t.people.c.id), collection, person_id))
            return None if found is None else self._person(conn, found)

    def people(
        self, collection: str | None, after_id: str | None, limit: int
    ) -> list[PersonRecord]:
        statement = _people_where(select(t.people.c.id), collection).order_by(t.people.c.id)
        if after_id is not None:
            statement = statement.where(t.people.c.id > after_id)
        with self.db.read() as conn:
            ids = conn.scalars(statement.limit(limit)).all()
            return [self._person(conn, person_id) for person_id in ids]

    def rename_person(self, person_id: str, name: str) -> PersonRecord | None:
        with self.db.write() as conn:
            changed = conn.execute(
                update(t.people)
                .where(t.people.c.id == person_id)
                .values(name=name, updated_at=_now())
            ).rowcount
            return self._person(conn, person_id) if changed else None

    def _person(self, conn: Connection, person_id: str) -> PersonRecord:
        row = conn.execute(select(t.people).where(t.people.c.id == person_id)).one()
        faces, images = conn.execute(
            select(func.count(), func.count(func.distinct(faces_c.image_id))).where(
                faces_c.person_id == person_id
            )
        ).one()
        return PersonRecord(
            row.id, row.collection, row.name, faces, images, row.created_at, row.updated_at
        )

    def enrol(self, person_id: str, face_ids: Sequence[str]) -> int:
        with self.db.write() as conn:
            enrolled = conn.execute(
                update(t.faces)
                .where(faces_c.id.in_(list(face_ids)))
                .values(person_id=person_id, enrolled=True)
            ).rowcount
            clusters = {
                cluster_id
                for cluster_id in conn.scalars(
                    select(faces_c.cluster_id).where(faces_c.id.in_(list(face_ids)))
                )
                if cluster_id is not None
            }
            marks = t.face_separations.c
            separated = select(marks.face_id).where(marks.other_id == person_id)
            # The rest of their clusters are taken for the same person, unless a user said
            # otherwise (enrolled elsewhere, or "not the same").
            conn.execute(
                update(t.faces)
                .where(
                    faces_c.cluster_id.in_(clusters),
                    faces_c.person_id.is_(None),
                    faces_c.id.not_in(separated),
                )
                .values(person_id=person_id, enrolled=False)
            )
            conn.execute(
                update(t.people).where(t.people.c.id == person_id).values(updated_at=_now())
            )
        return enrolled

    def unmatch(self, face_id: str) -> None:
        with self.db.write() as conn:
            row = conn.execute(select(faces_c.person_id).where(faces_c.id == face_id)).first()
            if row is None or row.person_id is None:
                return
            _separate(conn, face_id, row.person_id)
            conn.execute(
                update(t.faces).where(faces_c.id == face_id).values(person_id=None, enrolled=False)
            )

    def person_images(self, person_id: str, after_id: str | None, limit: int) -> list[str]:
        statement = (
            select(faces_c.image_id)
            .where(faces_c.person_id == person_id)
            .group_by(faces_c.image_id)
            .order_by(faces_c.image_id.desc())
            .limit(limit)
        )
        if after_id is not None:
            statement = statement.where(faces_c.image_id < after_id)
        with self.db.read() as conn:
            return list(conn.scalars(statement))

    # -- deletion --------------------------------------------------------------------------

    def delete_faces(self, face_ids: Sequence[str]) -> list[FaceRecord]:
        with self.db.write() as conn:
            return _delete_faces(conn, faces_c.id.in_(list(face_ids)))

    def delete_person(self, person_id: str) -> list[FaceRecord] | None:
        with self.db.write() as conn:
            if conn.scalar(select(t.people.c.id).where(t.people.c.id == person_id)) is None:
                return None
            deleted = _delete_faces(conn, faces_c.person_id == person_id)
            conn.execute(
                delete(t.face_separations).where(t.face_separations.c.other_id == person_id)
            )
            conn.execute(delete(t.people).where(t.people.c.id == person_id))
            return deleted

    def purge(self, features: Iterable[str]) -> tuple[int, int]:
        """Every face, person and mark, and every result of `features` (those holding faces)."""
        names = list(features)
        with self.db.write() as conn:
            change_marks.renew(conn, PURGE_MARK)
            faces = conn.execute(delete(t.faces)).rowcount
            conn.execute(delete(t.face_separations))
            conn.execute(delete(t.people))
            images = select(t.feature_results.c.image_id).where(
                t.feature_results.c.feature.in_(names)
            )
            conn.execute(
                update(t.images).where(t.images.c.id.in_(images)).values(updated_at=_now())
            )
            results = conn.execute(
                delete(t.feature_results).where(t.feature_results.c.feature.in_(names))
            ).rowcount
        return faces, results

    def purge_mark(self) -> ChangeMark:
        with self.db.read() as conn:
            return change_marks.current(conn, PURGE_MARK)

    # -- the face search's VectorSource ----------------------------------------------------

    def vectors_after(
        self, feature: str, version: str, after_seq: int, limit: int
    ) -> list[StoredVector]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(faces_c.seq, faces_c.id, faces_c.vector, faces_c.collection)
                .where(faces_c.version == version, faces_c.seq > after_seq)
                .where(faces_c.feature == feature)
                .order_by(faces_c.seq)
                .limit(limit)
            ).all()
        return [StoredVector(row.seq, row.id, _vector(row.vector), row.collection) for row in rows]

    def vector_of(self, face_id: str, feature: str) -> tuple[str, Vector] | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(faces_c.version, faces_c.vector).where(
                    faces_c.id == face_id, faces_c.feature == feature
                )
            ).first()
        return None if row is None else (row.version, _vector(row.vector))

    def vector_versions(self, feature: str, collection: str | None = None) -> dict[str, int]:
        statement = select(faces_c.version, func.count()).where(faces_c.feature == feature)
        if collection is not None:
            statement = statement.where(faces_c.collection == collection)
        with self.db.read() as conn:
            rows = conn.execute(statement.group_by(faces_c.version)).all()
        return {version: count for version, count in rows}

    def vector_search(self) -> NearestVectors | None:
        """pgvector where this database keeps the faces' embeddings; otherwise None, and each
        process searches an index of its own."""
        return self._pgvector


def _delete_faces(conn: Connection, which: Any) -> list[FaceRecord]:
    """Delete the faces and empty their vectors in the results they came from."""
    deleted = [_face(row) for row in conn.execute(select(*FACE_COLUMNS).where(which))]
    if not deleted:
        return []
    conn.execute(delete(t.faces).where(which))
    by_result: dict[tuple[str, str], set[int]] = defaultdict(set)
    for face in deleted:
        by_result[(face.image_id, face.feature)].add(face.position)
    results = t.feature_results.c
    for (image_id, feature), positions in by_result.items():
        of_result = and_(results.image_id == image_id, results.feature == feature)
        stored = conn.scalar(select(results.result).where(of_result))
        if stored is None:
            continue
        emptied = [
            {**face, "vector": []} if n in positions else face
            for n, face in enumerate(stored.get("faces", []))
        ]
        conn.execute(
            update(t.feature_results).where(of_result).values(result={**stored, "faces": emptied})
        )
    # Their answers changed: kept ones must not be served (api.image_answers).
    conn.execute(
        update(t.images)
        .where(t.images.c.id.in_(list({f.image_id for f in deleted})))
        .values(updated_at=_now())
    )
    return deleted


def _separate(conn: Connection, face_id: str, other_id: str) -> None:
    marks = t.face_separations.c
    exists = conn.scalar(
        select(marks.face_id).where(marks.face_id == face_id, marks.other_id == other_id)
    )
    if exists is None:
        conn.execute(insert(t.face_separations).values(face_id=face_id, other_id=other_id))


def _separations(conn: Connection, face_ids: Sequence[str]) -> list[dict[str, str]]:
    if not face_ids:
        return []
    marks = t.face_separations.c
    rows = conn.execute(
        select(marks.face_id, marks.other_id).where(marks.face_id.in_(list(face_ids)))
    )
    return [{"face_id": row.face_id, "other_id": row.other_id} for row in rows]


def _people_where(statement: Any, collection: str | None, person_id: str | None = None) -> Any:
    if collection is not None:
        statement = statement.where(t.people.c.collection == collection)
    if person_id is not None:
        statement = statement.where(t.people.c.id == person_id)
    return statement


def _box_of(stored: dict[str, int]) -> Box:
    return Box(stored["x"], stored["y"], stored["w"], stored["h"])


def _face(row: Any) -> FaceRecord:
    return FaceRecord(
        id=row.id,
        image_id=row.image_id,
        collection=row.collection,
        feature=row.feature,
        position=row.position,
        box=_box_of(row.box),
        confidence=row.confidence,
        version=row.version,
        cluster_id=row.cluster_id,
        person_id=row.person_id,
        enrolled=bool(row.enrolled),
        created_at=row.created_at,
    )


def _vector(data: bytes) -> Vector:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
