"""VectorIndex: recall against exact search, upsert and remove by key, the lists learnt as it
grows, persistence, threads."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from sightline.errors import InvalidQuery
from sightline.search import vector_index
from sightline.search.vector_index import VectorIndex

Matrix = npt.NDArray[np.float32]


def clustered(count: int, dims: int, seed: int, clusters: int = 40) -> Matrix:
    """Unit vectors around shared cluster centres, like real embeddings (and harder for an
    approximate index than uniform noise, whose neighbours are all about equally far)."""
    centres = np.random.default_rng(99).standard_normal((clusters, dims)).astype(np.float32)
    rng = np.random.default_rng(seed)
    points = centres[rng.integers(0, clusters, count)]
    points += rng.standard_normal((count, dims)).astype(np.float32) * 0.6
    unit: Matrix = points / np.linalg.norm(points, axis=1, keepdims=True)
    return unit


def unit(vector: Matrix) -> Matrix:
    normed: Matrix = vector / np.linalg.norm(vector)
    return normed


def recall_at_10(index: VectorIndex, data: Matrix, queries: Matrix) -> float:
    recalls = []
    for query in queries:
        exact = set(np.argsort(-(data @ query))[:10].tolist())
        found = {key for key, _score in index.search(query, 10)}
        recalls.append(len(found & exact) / 10)
    return float(np.mean(recalls))


def test_inverted_file_recall_at_10_against_exact_search_on_clustered_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vector_index, "EXACT_SCAN_VALUES", 1000 * 64)
    data = clustered(5000, 64, seed=1)
    index = VectorIndex(64)
    index.upsert(range(len(data)), data)

    assert index.lists == 2 * 70  # learnt from the 5,000 vectors: 2 a square root
    assert len(index) == 5000
    assert recall_at_10(index, data, clustered(100, 64, seed=2)) >= 0.95


def test_the_lists_are_learnt_when_exact_scanning_ends_and_again_at_fourfold_growth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vector_index, "EXACT_SCAN_VALUES", 2000 * 32)
    data = clustered(12_000, 32, seed=13)
    index = VectorIndex(32)

    index.upsert(range(2000), data[:2000])
    assert index.lists == 0  # still scanned exactly
    index.upsert(range(2000, 2500), data[2000:2500])
    learnt = index.lists
    assert learnt == 2 * 50  # from the 2,500 vectors present
    index.upsert(range(2500, 9000), data[2500:9000])
    assert index.lists == learnt  # grown less than fourfold
    index.upsert(range(9000, 12_000), data[9000:])
    assert index.lists == 2 * 109  # 12,000 vectors: learnt again

    # Every vector was read back whole into the new lists: each is still its own best match.
    assert len(index) == 12_000
    for key in range(0, 12_000, 397):
        best, score = index.search(data[key], 1)[0]
        assert (best, score) == (key, pytest.approx(1.0, abs=1e-3))


def test_small_indexes_are_searched_exactly_even_on_uniform_noise() -> None:
    # Uniform noise in 256-d: every vector nearly equally far, where graphs miss most of the top
    # 10 (recall about 0.7 here) and only comparing with every vector finds them all.
    rng = np.random.default_rng(12)
    data = rng.standard_normal((5000, 256)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[:50] + rng.standard_normal((50, 256)).astype(np.float32) * 0.1
    index = VectorIndex(256)
    index.upsert(range(len(data)), data)

    # Not exactly 1: float16 storage may swap neighbours whose similarities nearly tie.
    assert (
        recall_at_10(index, data, queries / np.linalg.norm(queries, axis=1, keepdims=True)) >= 0.98
    )


def test_scores_are_cosine_similarities_best_first() -> None:
    data = clustered(300, 32, seed=3)
    index = VectorIndex(32)
    index.upsert(range(300), data)
    query = clustered(1, 32, seed=4)[0]

    hits = index.search(query, 5)

    scores = [score for _key, score in hits]
    assert scores == sorted(scores, reverse=True)
    exact = data @ query
    for key, score in hits:
        assert score == pytest.approx(float(exact[key]), abs=5e-3)  # float16 storage


def test_vectors_are_normalised_so_any_length_gives_the_cosine() -> None:
    index = VectorIndex(3)
    index.upsert([1, 2], np.array([[3.0, 0.0, 0.0], [1.0, 1.0, 0.0]], dtype=np.float32))

    hits = dict(index.search([10.0, 0.0, 0.0], 2))

    assert hits[1] == pytest.approx(1.0, abs=1e-3)
    assert hits[2] == pytest.approx(np.sqrt(0.5), abs=1e-3)


def test_upsert_replaces_the_vector_under_an_existing_key() -> None:
    data = clustered(200, 16, seed=5)
    index = VectorIndex(16)
    index.upsert(range(200), data)
    moved = unit(-data[7])  # far from where key 7 was

    index.upsert([7], moved[None, :])

    assert len(index) == 200
    assert index.search(moved, 1) == [(7, pytest.approx(1.0, abs=1e-3))]
    assert 7 not in [key for key, _score in index.search(data[7], 10)]


def test_remove_drops_keys_and_ignores_absent_ones() -> None:
    data = clustered(200, 16, seed=6)
    index = VectorIndex(16)
    index.upsert(range(200), data)

    removed = index.remove([3, 4, 1000])

    assert removed == 2
    assert len(index) == 198
    assert 3 not in index and 5 in index
    found = [key for key, _score in index.search(data[3], 200)]
    assert len(found) == 198
    assert not {3, 4} & set(found)
    assert index.remove([]) == 0


def test_empty_index_and_k_beyond_its_size() -> None:
    index = VectorIndex(8)
    assert index.search(np.ones(8, dtype=np.float32), 10) == []

    index.upsert([1, 2], clustered(2, 8, seed=7))

    assert {key for key, _score in index.search(np.ones(8, dtype=np.float32), 10)} == {1, 2}
    assert index.search(np.ones(8, dtype=np.float32), 0) == []


def test_wrong_dimensions_and_malformed_upserts_are_refused() -> None:
    index = VectorIndex(8)
    with pytest.raises(InvalidQuery, match="8 dimensions"):
        index.search(np.ones(9, dtype=np.float32), 3)
    with pytest.raises(InvalidQuery, match="8 dimensions"):
        index.upsert([1], np.ones((1, 4), dtype=np.float32))
    with pytest.raises(InvalidQuery, match="2 keys for 1 vectors"):
        index.upsert([1, 2], np.ones((1, 8), dtype=np.float32))
    with pytest.raises(InvalidQuery, match="once"):
        index.upsert([1, 1], np.ones((2, 8), dtype=np.float32))
    assert len(index) == 0


def test_save_and_load_give_the_same_answers(tmp_path: Path) -> None:
    data = clustered(1000, 32, seed=9)
    index = VectorIndex(32)
    index.upsert(range(1000), data)
    index.remove([10, 11])
    index.save(tmp_path / "space.index")

    loaded = VectorIndex.load(tmp_path / "space.index")

    assert loaded is not None
    assert loaded.dims == 32 and len(loaded) == 998
    for query in clustered(20, 32, seed=10):
        assert loaded.search(query, 10) == index.search(query, 10)
    loaded.upsert([5000], data[:1])  # a loaded index still takes changes
    assert len(loaded) == 999
    assert VectorIndex.load(tmp_path / "missing.index") is None


def test_a_saved_inverted_file_loads_with_its_lists_and_keeps_changing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_index, "EXACT_SCAN_VALUES", 1000 * 32)
    data = clustered(3000, 32, seed=14)
    index = VectorIndex(32)
    index.upsert(range(3000), data)
    index.remove([7])
    index.save(tmp_path / "space.index")

    loaded = VectorIndex.load(tmp_path / "space.index")

    assert loaded is not None
    assert loaded.lists == index.lists > 0 and len(loaded) == 2999
    for query in clustered(20, 32, seed=15):
        assert loaded.search(query, 10) == index.search(query, 10)
    assert 7 not in loaded and 8 in loaded
    loaded.upsert([8], data[7:8])  # replaced in place, by key
    assert len(loaded) == 2999
    assert loaded.search(data[7], 1)[0][0] == 8


def test_a_damaged_snapshot_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "space.index"
    path.write_bytes(b"not an index")
    with pytest.raises((RuntimeError, ValueError)):
        VectorIndex.load(path)


def test_searches_run_safely_while_another_thread_changes_the_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vector_index, "EXACT_SCAN_VALUES", 1200 * 32)
    data = clustered(6000, 32, seed=11)
    index = VectorIndex(32)
    index.upsert(range(1000), data[:1000])
    errors: list[BaseException] = []
    done = threading.Event()

    def search() -> None:
        try:
            while not done.is_set():
                for key, _score in index.search(data[0], 10):
                    assert 0 <= key < 6000
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    readers = [threading.Thread(target=search) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        # Growing past exact scanning, then fourfold, learns the lists (twice) under the readers.
        for start in range(1000, 6000, 500):
            index.upsert(range(start, start + 500), data[start : start + 500])
            index.remove(range(start - 1000, start - 900))
    finally:
        done.set()
        for reader in readers:
            reader.join()

    assert errors == []
    assert len(index) == 6000 - 10 * 100


def test_float16_vectors_are_indexed_and_searched_like_float32_and_survive_a_snapshot(
    tmp_path: Path,
) -> None:
    data = clustered(500, 64, seed=7)
    index = VectorIndex(64)
    index.upsert(range(500), data.astype(np.float16))
    path = tmp_path / "space.index"
    index.save(path)
    loaded = VectorIndex.load(path)
    assert loaded is not None

    for key in (0, 123, 499):
        for source in (index, loaded):
            for query in (data[key], data[key].astype(np.float16)):
                best, score = source.search(query, 1)[0]
                assert best == key
                assert score == pytest.approx(1.0, abs=1e-3)
    assert len(loaded) == 500
