"""VectorSearch: catching up with the catalog by seq, re-keying, spaces, forgetting, snapshots;
and the same answers from every real catalog: SQLite and PostgreSQL without pgvector (an index
in this process), PostgreSQL with pgvector (the database's HNSW indexes)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from sightline.events import EventType, cloud_event
from sightline.search import vectors
from sightline.search.pgvector import PgVectorSearch
from sightline.search.vector_store import StoredVector
from sightline.search.vectors import VectorSearch
from sightline.storage.records import FeatureState, FeatureStatus, NewImage, Vector
from sightline.stores import Stores, open_stores
from support.catalogs import embedding, migrate
from support.services import Stack

DIMS = 16


@dataclass
class Row:
    seq: int
    image_id: str
    feature: str
    version: str
    vector: Vector
    collection: str = "default"


@dataclass
class FakeCatalog:
    """The catalog's vector rows in memory, with the same replace-under-a-new-seq rule."""

    rows: list[Row] = field(default_factory=list)
    next_seq: int = 1
    reads: list[int] = field(default_factory=list)  # `after_seq` of every vectors_after call

    def write(
        self,
        image_id: str,
        vector: Vector,
        feature: str = "embedding",
        version: str = "1",
        collection: str = "default",
    ) -> None:
        self.rows = [r for r in self.rows if (r.image_id, r.feature) != (image_id, feature)]
        self.rows.append(Row(self.next_seq, image_id, feature, version, vector, collection))
        self.next_seq += 1

    def delete_image(self, image_id: str) -> None:
        self.rows = [r for r in self.rows if r.image_id != image_id]

    def vectors_after(
        self, feature: str, version: str, after_seq: int, limit: int
    ) -> list[StoredVector]:
        self.reads.append(after_seq)
        found = [
            StoredVector(r.seq, r.image_id, r.vector, r.collection)
            for r in self.rows
            if (r.feature, r.version) == (feature, version) and r.seq > after_seq
        ]
        return found[:limit]

    def vector_of(self, image_id: str, feature: str) -> tuple[str, Vector] | None:
        for r in self.rows:
            if (r.image_id, r.feature) == (image_id, feature):
                return r.version, r.vector
        return None

    def vector_versions(self, feature: str, collection: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.rows:
            if r.feature == feature and collection in (None, r.collection):
                counts[r.version] = counts.get(r.version, 0) + 1
        return counts

    def vector_search(self) -> None:
        return None


def vec(seed: int) -> Vector:
    values: Vector = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
    return values / np.linalg.norm(values)


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [image_id for image_id, _score in hits]


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


def test_new_rows_are_picked_up_incrementally(catalog: FakeCatalog) -> None:
    search = VectorSearch(catalog)
    for n in range(3):
        catalog.write(f"img{n}", vec(n))
    assert set(ids(search.nearest("embedding", "1", vec(0), 10))) == {"img0", "img1", "img2"}

    catalog.reads.clear()
    catalog.write("img3", vec(3))
    hits = search.nearest("embedding", "1", vec(3), 1)

    assert hits == [("img3", pytest.approx(1.0, abs=1e-3))]
    assert catalog.reads == [3]  # only the rows after the last seen seq were asked for
    assert search.refresh("embedding", "1") == 4


def test_catching_up_pages_through_many_rows(
    catalog: FakeCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "FIRST_PAGE", 4)
    for n in range(10):
        catalog.write(f"img{n}", vec(n))

    found = VectorSearch(catalog).nearest("embedding", "1", vec(9), 10)

    assert len(found) == 10
    assert catalog.reads == [0, 4, 8]


def test_the_first_catch_up_takes_big_pages_later_ones_small_and_each_row_is_indexed_once(
    catalog: FakeCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "FIRST_PAGE", 5)
    monkeypatch.setattr(vectors, "PAGE", 2)
    for n in range(12):
        catalog.write(f"img{n}", vec(n))
    search = VectorSearch(catalog)

    assert search.refresh("embedding", "1") == 12
    assert catalog.reads == [0, 5, 10]
    catalog.reads.clear()
    for n in range(12, 17):
        catalog.write(f"img{n}", vec(n))
    catalog.write("img3", vec(103))  # re-analysed: replaced under a new seq

    assert search.refresh("embedding", "1") == 17
    assert catalog.reads == [12, 14, 16, 18]
    for n in range(17):
        wanted = vec(103 if n == 3 else n)
        assert search.nearest("embedding", "1", wanted, 1) == [
            (f"img{n}", pytest.approx(1.0, abs=1e-3))
        ]
    everything = search.nearest("embedding", "1", vec(0), 100)
    assert sorted(ids(everything)) == sorted(f"img{n}" for n in range(17))


def test_a_replaced_row_re_keys_its_image(catalog: FakeCatalog) -> None:
    search = VectorSearch(catalog)
    for n in range(5):
        catalog.write(f"img{n}", vec(n))
    search.refresh("embedding", "1")

    catalog.write("img2", vec(100))  # re-analysed: a new row under a new seq
    hits = search.nearest("embedding", "1", vec(100), 5)

    assert hits[0] == ("img2", pytest.approx(1.0, abs=1e-3))
    assert ids(hits).count("img2") == 1  # the old vector is gone, not indexed twice
    assert search.refresh("embedding", "1") == 5
    old = dict(search.nearest("embedding", "1", vec(2), 5))
    assert old["img2"] == pytest.approx(float(vec(2) @ vec(100)), abs=5e-3)


def test_versions_and_features_never_mix(catalog: FakeCatalog) -> None:
    catalog.write("a", vec(1), version="1")
    catalog.write("b", vec(1), version="2")
    catalog.write("c", vec(1), feature="semantic", version="1")
    search = VectorSearch(catalog)

    assert ids(search.nearest("embedding", "1", vec(1), 10)) == ["a"]
    assert ids(search.nearest("embedding", "2", vec(1), 10)) == ["b"]
    assert ids(search.nearest("semantic", "1", vec(1), 10)) == ["c"]
    assert search.nearest("embedding", "3", vec(1), 10) == []


def test_excluded_images_do_not_take_places_in_the_answer(catalog: FakeCatalog) -> None:
    for n in range(6):
        catalog.write(f"img{n}", vec(n))
    search = VectorSearch(catalog)

    hits = search.nearest("embedding", "1", vec(0), 3, exclude={"img0", "img1"})

    assert len(hits) == 3
    assert not {"img0", "img1"} & set(ids(hits))


def test_a_search_within_a_collection_finds_only_its_images(catalog: FakeCatalog) -> None:
    for n in range(6):
        catalog.write(f"img{n}", vec(n), collection="alpha" if n % 2 else "beta")
    search = VectorSearch(catalog)

    alpha = search.nearest("embedding", "1", vec(0), 10, collection="alpha")
    assert sorted(ids(alpha)) == ["img1", "img3", "img5"]
    assert ids(search.nearest("embedding", "1", vec(0), 1, collection="beta")) == ["img0"]
    assert search.nearest("embedding", "1", vec(0), 10, collection="gamma") == []
    # Over every collection: the best of each collection's index, in one ranking.
    everything = search.nearest("embedding", "1", vec(3), 6)
    assert ids(everything)[0] == "img3" and len(everything) == 6
    assert [score for _, score in everything] == sorted(
        (score for _, score in everything), reverse=True
    )
    excluded = search.nearest("embedding", "1", vec(3), 2, exclude={"img3"}, collection="alpha")
    assert sorted(ids(excluded)) == ["img1", "img5"]

    search.forget("embedding", "1", ["img1"])
    assert sorted(ids(search.nearest("embedding", "1", vec(1), 3, collection="alpha"))) == [
        "img3",
        "img5",
    ]


def test_a_snapshot_keeps_each_collections_index(catalog: FakeCatalog, tmp_path: Path) -> None:
    for n in range(4):
        catalog.write(f"img{n}", vec(n), collection="alpha" if n % 2 else "beta")
    first = VectorSearch(catalog, tmp_path)
    first.refresh("embedding", "1")
    first.close()
    catalog.reads.clear()

    second = VectorSearch(catalog, tmp_path)
    assert sorted(ids(second.nearest("embedding", "1", vec(1), 4, collection="alpha"))) == [
        "img1",
        "img3",
    ]
    assert catalog.reads == [4]  # loaded, not rebuilt


def test_deleted_images_stay_until_forgotten(catalog: FakeCatalog) -> None:
    for n in range(4):
        catalog.write(f"img{n}", vec(n))
    search = VectorSearch(catalog)
    search.refresh("embedding", "1")

    catalog.delete_image("img1")
    assert "img1" in ids(search.nearest("embedding", "1", vec(1), 4))  # the catalog's rows went

    search.forget("embedding", "1", ["img1", "never-indexed"])

    assert set(ids(search.nearest("embedding", "1", vec(1), 4))) == {"img0", "img2", "img3"}
    assert search.refresh("embedding", "1") == 3


# -- snapshots ---------------------------------------------------------------------------------


def test_a_restart_loads_the_snapshot_and_pulls_only_newer_rows(
    catalog: FakeCatalog, tmp_path: Path
) -> None:
    for n in range(20):
        catalog.write(f"img{n}", vec(n))
    first = VectorSearch(catalog, tmp_path)
    before = first.nearest("embedding", "1", vec(7), 30)
    first.close()

    catalog.write("img5", vec(500))  # replaced after the snapshot
    catalog.write("new", vec(600))
    catalog.reads.clear()
    second = VectorSearch(catalog, tmp_path)

    assert second.nearest("embedding", "1", vec(500), 1) == [("img5", pytest.approx(1.0, 1e-3))]
    assert catalog.reads == [20]
    assert second.refresh("embedding", "1") == 21
    assert ids(second.nearest("embedding", "1", vec(600), 1)) == ["new"]
    after = second.nearest("embedding", "1", vec(7), 30)
    changed = {"img5", "new"}
    assert [i for i in ids(after) if i not in changed] == [
        i for i in ids(before) if i not in changed
    ]


def test_saving_again_keeps_one_generation_of_files(catalog: FakeCatalog, tmp_path: Path) -> None:
    search = VectorSearch(catalog, tmp_path)
    catalog.write("a", vec(1))
    search.refresh("embedding", "1")
    search.save()
    catalog.write("b", vec(2))
    search.refresh("embedding", "1")
    search.save()

    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".index", ".json", ".npz"]
    assert VectorSearch(catalog, tmp_path).refresh("embedding", "1") == 2


def test_an_unreadable_snapshot_is_rebuilt_from_the_catalog(
    catalog: FakeCatalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(5):
        catalog.write(f"img{n}", vec(n))
    search = VectorSearch(catalog, tmp_path)
    search.refresh("embedding", "1")
    search.close()
    for path in tmp_path.glob("*.index"):
        path.write_bytes(b"not an index")
    catalog.reads.clear()

    with caplog.at_level(logging.WARNING):
        rebuilt = VectorSearch(catalog, tmp_path).refresh("embedding", "1")

    assert rebuilt == 5
    assert catalog.reads == [0]
    assert "snapshot unreadable" in caplog.text


def test_snapshots_of_versions_gone_from_the_catalog_are_deleted(
    catalog: FakeCatalog, tmp_path: Path
) -> None:
    catalog.write("a", vec(1), version="1")
    catalog.write("b", vec(2), version="1.1")  # a version whose name extends the other's
    search = VectorSearch(catalog, tmp_path)
    search.refresh("embedding", "1")
    search.refresh("embedding", "1.1")
    search.save()
    assert len(list(tmp_path.glob("*.json"))) == 2

    catalog.write("a", vec(1), version="2")  # re-analysed by the new model: version 1 is empty
    search.save()

    assert [path.name for path in tmp_path.glob("*.json")] == ["embedding%401%2E1.json"]
    assert len(list(tmp_path.iterdir())) == 3


def test_many_changes_are_saved_without_waiting_for_close(
    catalog: FakeCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "AUTOSAVE_ROWS", 3)
    search = VectorSearch(catalog, tmp_path)
    catalog.write("a", vec(1))
    search.refresh("embedding", "1")
    assert list(tmp_path.glob("*.json")) == []

    catalog.write("b", vec(2))
    catalog.write("c", vec(3))
    search.refresh("embedding", "1")

    assert len(list(tmp_path.glob("*.json"))) == 1


# -- against the real catalog ------------------------------------------------------------------


class NoBlobs:
    def ensure(self, sha256: str) -> None:
        pass

    def discard(self, sha256: str) -> None:
        pass


@pytest.fixture(params=["sqlite", "postgresql", "pgvector"])
def sql_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    """Each real catalog: SQLite and PostgreSQL without pgvector (the column dropped) search in
    this process, PostgreSQL with pgvector in the database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        stack: Stack = request.getfixturevalue("services")
        url = stack.postgres.new_database(prepare=migrate)
        if request.param == "postgresql":
            stack.postgres.execute(
                "ALTER TABLE image_vectors DROP COLUMN embedding", url.rsplit("/", 1)[1]
            )
    opened = open_stores(url)
    assert isinstance(opened, Stores)
    assert (opened.vectors.vector_search() is not None) == (request.param == "pgvector")
    yield opened
    opened.close()
    if request.param != "sqlite":
        stack.postgres.drop_database(url)


def add_image(
    catalog: Stores, image_id: str, feature: str = "embedding", collection: str = "default"
) -> None:
    pending = FeatureState(feature, FeatureStatus.PENDING, feature, "1")
    blob = image_id * 2  # 64 characters, like the sha256 it stands for
    image = NewImage(image_id, blob, None, "image/png", "PNG", 1, 1, 1, {}, [pending], collection)
    catalog.images.add_images([image], [], NoBlobs())


def analyse(
    catalog: Stores,
    image_id: str,
    vector: Vector,
    version: str = "1",
    feature: str = "embedding",
) -> None:
    state = FeatureState(feature, FeatureStatus.DONE, feature, version, embedding(vector))
    catalog.images.finish_features(
        image_id, [state], [], NoBlobs(), f"done-{image_id}-{feature}-{version}"
    )


def test_follows_the_sql_catalog_through_re_analysis_versions_and_deletion(
    sql_catalog: Stores,
) -> None:
    names = [f"img_{n:028x}" for n in range(4)]
    for n, image_id in enumerate(names):
        add_image(sql_catalog, image_id)
        analyse(sql_catalog, image_id, vec(n))
    search = VectorSearch(sql_catalog.vectors)
    assert set(ids(search.nearest("embedding", "1", vec(0), 10))) == set(names)

    # Re-analysing the newest row and an older one: both come back under new seqs.
    analyse(sql_catalog, names[3], vec(300))
    analyse(sql_catalog, names[1], vec(100))
    assert search.nearest("embedding", "1", vec(300), 1) == [(names[3], pytest.approx(1, 1e-3))]
    assert search.nearest("embedding", "1", vec(100), 1) == [(names[1], pytest.approx(1, 1e-3))]
    assert search.refresh("embedding", "1") == 4

    # A new model version moves an image to the new space.
    analyse(sql_catalog, names[2], vec(2), version="2")
    assert ids(search.nearest("embedding", "2", vec(2), 10)) == [names[2]]

    sql_catalog.images.delete_image(
        names[0], cloud_event(EventType.IMAGE_DELETED, names[0], {}), NoBlobs()
    )
    assert sql_catalog.vectors.vector_of(names[0], "embedding") is None  # the rows cascade away
    search.forget("embedding", "1", [names[0]])
    assert names[0] not in ids(search.nearest("embedding", "1", vec(0), 10))

    nearest = search.nearest("embedding", "1", vec(100), 10, exclude={names[1]})
    # names[2] may linger in version 1 of an in-process index (a replacing row of another
    # version is not among that space's rows); pgvector knows it moved.
    assert names[1] not in ids(nearest) and names[3] in ids(nearest)


def test_spaces_of_other_features_sizes_and_versions_never_mix(sql_catalog: Stores) -> None:
    names = [f"img_{n:028x}" for n in range(6)]
    for image_id in names:
        add_image(sql_catalog, image_id)
    analyse(sql_catalog, names[0], vec(1))
    analyse(sql_catalog, names[1], vec(1), version="2")
    wide = np.tile(vec(1), 3)  # another model, another size
    analyse(sql_catalog, names[2], wide / np.linalg.norm(wide), feature="model:clip")
    search = VectorSearch(sql_catalog.vectors)

    assert ids(search.nearest("embedding", "1", vec(1), 10)) == [names[0]]
    assert ids(search.nearest("embedding", "2", vec(1), 10)) == [names[1]]
    assert ids(search.nearest("model:clip", "1", wide, 10)) == [names[2]]
    assert search.nearest("embedding", "3", vec(1), 10) == []
    assert search.refresh("embedding", "2") == 1


def test_every_catalog_gives_the_true_nearest_neighbours(sql_catalog: Stores) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((300, DIMS)).astype(np.float32)
    names = [f"img_{n:028x}" for n in range(len(vectors))]
    for image_id, vector in zip(names, vectors, strict=True):
        add_image(sql_catalog, image_id)
        analyse(sql_catalog, image_id, vector)
    search = VectorSearch(sql_catalog.vectors)
    search.refresh("embedding", "1")
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    for query in rng.standard_normal((5, DIMS)).astype(np.float32):
        similarity = units @ (query / np.linalg.norm(query))
        hits = search.nearest("embedding", "1", query, 10, exclude={names[0]})
        expected = [i for i in np.argsort(-similarity) if names[i] != names[0]][:10]
        # Vectors are stored at half precision on both paths: near-ties may swap.
        assert len(set(ids(hits)) & {names[i] for i in expected}) >= 9
        for image_id, score in hits:
            assert score == pytest.approx(similarity[names.index(image_id)], abs=2e-3)


def test_every_catalog_searches_within_a_collection(sql_catalog: Stores) -> None:
    names = [f"img_{n:028x}" for n in range(40)]
    for n, image_id in enumerate(names):
        # One image of alpha among many of beta: its neighbours are all beta's but itself.
        add_image(sql_catalog, image_id, collection="alpha" if n in (0, 1) else "beta")
        analyse(sql_catalog, image_id, vec(n % 3))
    search = VectorSearch(sql_catalog.vectors)

    alpha = search.nearest("embedding", "1", vec(0), 10, exclude={names[0]}, collection="alpha")
    assert ids(alpha) == [names[1]]
    beta = search.nearest("embedding", "1", vec(0), 50, collection="beta")
    assert len(beta) == 38 and not {names[0], names[1]} & set(ids(beta))
    assert len(search.nearest("embedding", "1", vec(0), 50)) == 40
    assert sql_catalog.vectors.vector_versions("embedding", "alpha") == {"1": 2}
    assert sql_catalog.vectors.vector_versions("embedding") == {"1": 40}


@pytest.mark.parametrize("sql_catalog", ["pgvector"], indirect=True)
def test_pgvector_searches_through_the_spaces_hnsw_index(sql_catalog: Stores) -> None:
    native = sql_catalog.vectors.vector_search()
    assert isinstance(native, PgVectorSearch)
    for n in range(3):
        add_image(sql_catalog, f"img_{n:028x}")
        analyse(sql_catalog, f"img_{n:028x}", vec(n))
    VectorSearch(sql_catalog.vectors).refresh("embedding", "1")
    statement = native.statement("embedding", "1", vec(0), 5, exclude={"img_x"})
    with sql_catalog.db.read() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        sql = statement.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}").scalars())
    assert "ix_image_vectors_hnsw_" in plan
