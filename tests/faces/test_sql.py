"""The faces table on each real catalog, with synthetic descriptors: SQLite, whose faces each
process searches with an index of its own, and PostgreSQL with pgvector, which answers face
searches itself from the faces' `embedding` column (migration 0016), through an HNSW index of
the faces' own, and keeps no descriptor of a deleted face."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from sqlalchemy import text

from sightline.events import EventType, cloud_event
from sightline.faces.service import FEATURE
from sightline.faces.sql import UNGROUPED
from sightline.faces.store import FaceQuery
from sightline.search.pgvector import PgVectorSearch
from sightline.search.vectors import VectorSearch
from sightline.storage import tables as t
from sightline.storage.records import FeatureState, FeatureStatus, NewImage, Vector
from sightline.stores import Stores
from sightline.vision.face_embedding import DIMENSIONS, FaceDescriptor, FaceEmbeddingResult
from sightline.vision.geometry import Box, ModelInfo
from support.catalogs import schema_differences

VERSION = "1"


class NoBlobs:
    def ensure(self, sha256: str) -> None:
        pass

    def discard(self, sha256: str) -> None:
        pass


def person(seed: int) -> Vector:
    vector = np.random.default_rng(seed).standard_normal(DIMENSIONS).astype(np.float32)
    return vector / np.linalg.norm(vector)


def photo_of(face: Vector, seed: int) -> Vector:
    """Another photo of the same face: its descriptor a little off."""
    noise = np.random.default_rng(1000 + seed).standard_normal(DIMENSIONS).astype(np.float32)
    vector = face + 0.02 * noise
    return vector / np.linalg.norm(vector)


def add_image(catalog: Stores, image_id: str, faces: Sequence[Vector], collection: str) -> None:
    pending = FeatureState(FEATURE, FeatureStatus.PENDING, FEATURE, VERSION)
    image = NewImage(
        image_id, image_id * 2, None, "image/png", "PNG", 1, 1, 1, {}, [pending], collection
    )
    catalog.images.add_images([image], [], NoBlobs())
    analyse(catalog, image_id, faces)


def analyse(catalog: Stores, image_id: str, faces: Sequence[Vector], run: int = 0) -> None:
    result = FaceEmbeddingResult(
        model=ModelInfo(name="faceres", version="1"),
        width=400,
        height=100,
        dimensions=DIMENSIONS,
        faces=[
            FaceDescriptor(
                box=Box(x=100 * n, y=0, w=80, h=80),
                confidence=0.9,
                vector=[float(value) for value in face],
            )
            for n, face in enumerate(faces)
        ],
    ).model_dump(mode="json")
    state = FeatureState(FEATURE, FeatureStatus.DONE, FEATURE, VERSION, result)
    catalog.images.finish_features(image_id, [state], [], NoBlobs(), f"done-{image_id}-{run}")


def faces_of(catalog: Stores, image_id: str) -> list[str]:
    """The image's face ids in their result's order (ids made in one millisecond are not)."""
    found = catalog.faces.faces(FaceQuery(None, image_id=image_id))
    return [face.id for face in sorted(found, key=lambda face: face.position)]


def embeddings(catalog: Stores) -> int:
    """Faces whose descriptor pgvector holds."""
    with catalog.db.read() as conn:
        return int(conn.scalar(text("SELECT count(embedding) FROM faces")) or 0)


def test_faces_are_searched_by_the_database_only_where_it_has_pgvector(catalog: Stores) -> None:
    native = catalog.faces.vector_search()
    if catalog.db.is_sqlite:
        assert native is None
    else:
        assert isinstance(native, PgVectorSearch) and native.table.name == "faces"

    alice, bob = person(1), person(2)
    add_image(catalog, "img_a", [photo_of(alice, 1), bob], "default")
    add_image(catalog, "img_b", [photo_of(alice, 2)], "default")
    add_image(catalog, "img_c", [photo_of(alice, 3)], "beta")
    (query, _), (other,) = faces_of(catalog, "img_a"), faces_of(catalog, "img_b")
    index = VectorSearch(catalog.faces)

    hits = index.nearest(FEATURE, VERSION, alice, 10, exclude={query}, collection="default")
    assert [face_id for face_id, _ in hits][0] == other
    assert query not in {face_id for face_id, _ in hits}
    assert set(faces_of(catalog, "img_c")).isdisjoint(face_id for face_id, _ in hits)
    assert hits[0][1] == pytest.approx(float(alice @ photo_of(alice, 2)), abs=2e-3)
    assert hits[-1][1] < 0.2  # bob: another person
    assert index.nearest(FEATURE, "2", alice, 10) == []  # another version's space

    # Analysed again: the face keeps its id, and is found by its new descriptor.
    analyse(catalog, "img_b", [photo_of(bob, 4)], run=1)
    assert faces_of(catalog, "img_b") == [other]
    nearest_bob = index.nearest(FEATURE, VERSION, bob, 2, collection="default")
    assert {face_id for face_id, _ in nearest_bob} == {other, faces_of(catalog, "img_a")[1]}


@pytest.mark.parametrize("catalog_url", ["postgresql"], indirect=True)
def test_pgvector_searches_faces_through_their_own_hnsw_index(catalog: Stores) -> None:
    native = catalog.faces.vector_search()
    assert isinstance(native, PgVectorSearch)
    for n in range(3):
        add_image(catalog, f"img_{n}", [person(n)], "default")
    assert native.nearest(FEATURE, VERSION, person(0), 1)[0][0] == faces_of(catalog, "img_0")[0]

    statement = native.statement(FEATURE, VERSION, person(0), 5, exclude={"face_x"})
    with catalog.db.read() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        sql = statement.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}").scalars())
        index = conn.scalar(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'faces' AND indexdef LIKE :d"),
            {"d": "%USING hnsw%"},
        )
    assert index is not None and index.startswith(t.hnsw_index_prefix("faces"))
    assert index in plan
    # The index is made by hand: schema comparisons leave it (and the column) alone.
    assert schema_differences(catalog.db) == []


@pytest.mark.parametrize("catalog_url", ["postgresql"], indirect=True)
def test_deleted_faces_leave_no_embedding_in_the_database(catalog: Stores) -> None:
    alice = person(1)
    add_image(catalog, "img_a", [photo_of(alice, 1), person(2)], "default")
    add_image(catalog, "img_b", [photo_of(alice, 2)], "default")
    add_image(catalog, "img_c", [photo_of(alice, 3)], "default")
    native = catalog.faces.vector_search()
    assert native is not None and embeddings(catalog) == 4

    def found() -> set[str]:
        return {face_id for face_id, _ in native.nearest(FEATURE, VERSION, alice, 10)}

    first, second = faces_of(catalog, "img_a")
    catalog.faces.delete_faces([first])
    assert embeddings(catalog) == 3 and first not in found()

    catalog.faces.create_person("person_1", "Alice", "default")
    catalog.faces.enrol("person_1", faces_of(catalog, "img_b"))
    (enrolled,) = faces_of(catalog, "img_b")
    catalog.faces.delete_person("person_1")
    assert embeddings(catalog) == 2 and enrolled not in found()

    (pictured,) = faces_of(catalog, "img_c")
    catalog.images.delete_image(
        "img_c", cloud_event(EventType.IMAGE_DELETED, "img_c", {}), NoBlobs()
    )
    assert embeddings(catalog) == 1 and found() == {second}

    catalog.faces.purge([FEATURE])
    assert embeddings(catalog) == 0 and found() == set()


def test_the_faces_to_group_are_read_through_their_partial_index(catalog: Stores) -> None:
    """Grouping runs after every analysis that stores faces: it must not walk every face."""
    with catalog.db.read() as conn:
        compiled = UNGROUPED.compile(conn)
        params = compiled.construct_params({"limit": 200})
        if catalog.db.is_sqlite:
            plan = conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}",
                tuple(params[name] for name in compiled.positiontup or ()),
            ).all()
            assert [row[3] for row in plan] == ["SCAN faces USING INDEX ix_faces_ungrouped"]
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # an empty table: any plan
            plan = conn.exec_driver_sql(f"EXPLAIN {compiled}", params).all()
            assert "ix_faces_ungrouped" in "\n".join(row[0] for row in plan)
