"""A nearest-neighbour index over one vector space: cosine similarity, integer keys.

An HNSW graph from `usearch`, vectors stored as float16; small indexes are scanned exactly.

Picked against hnswlib and faiss-cpu on this project's 2-core machine (figures in issue 4's
closing note; `bench/search.py` measures this index). At the same settings the three are
alike, so the choice rests on what the service needs besides speed. usearch removes and re-adds
by key (faiss's HNSW cannot remove), stores float16 at the recall of float32 (hnswlib keeps
float32 only: 5 GB for 1M 1280-d embeddings instead of 2.5 GB), saves and loads an index in
seconds, adds a batch of vectors on every core, and ships binary wheels (hnswlib compiles from
source at install).

Other storage was measured and rejected. bfloat16 builds with a quarter less CPU where the CPU
compares it natively (AVX-512 BF16), but its 8-bit mantissa moves a 1280-d cosine by up to
4e-4, enough to swap near-tied neighbours: recall@10 at 1M clustered 1280-d vectors fell to
0.92 (issue 18). int8: the components of 1280-d unit vectors are near 0.03, which usearch's
int8 rounds so coarsely that recall@10 falls to 0.8 (0.97 at 100k even with each vector scaled
to the full int8 range, for little less CPU than float16).

Vectors are normalised here, so callers may pass any non-zero vector of any float type; the
inner product of unit vectors is their cosine similarity.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from usearch.index import Index

from sightline.errors import InvalidQuery

Vectors = npt.NDArray[np.float32]

# HNSW parameters: 16 links per node and 128 candidates while inserting are usearch's defaults
# and the common choice. Candidates while searching trade latency for recall; at 1M clustered
# 384-d vectors (recall@10 / p50): 64: 0.84 / 0.43 ms, 128: 0.95 / 0.59 ms, 256: 0.98 / 0.75 ms,
# 512: 0.98 / 1.0 ms. Fewer candidates while inserting build faster but a worse graph that more
# candidates while searching do not mend: at 300k clustered 1280-d vectors, 64 instead of 128
# halved the build's CPU time and took recall@10 from 0.99 to 0.94 (0.96 searching 512), and
# at 1M 128 barely keeps 0.95 (issue 18).
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256
STORAGE = "f16"
# Up to this many stored values (vectors x dimensions) a search compares the query with every
# vector instead of walking the graph: exact, and at most about 2 ms on this machine (10k 1280-d
# vectors: 0.9 ms, 50k 384-d: 1.9 ms), so small collections get the true nearest neighbours
# whatever their distribution. Larger ones walk the graph: under 1 ms at 1M.
EXACT_SCAN_VALUES = 20_000_000


class VectorIndex:
    """Unit vectors of one space (fixed dimensions) under integer keys; safe across threads.

    One lock serialises every call: usearch may grow its storage while adding, which concurrent
    searches must not see, and a search takes a millisecond or two at most, so readers waiting
    for each other cost little on a 2-core machine.
    """

    def __init__(self, dims: int, index: Index | None = None) -> None:
        if index is None:  # not `index or`: an empty usearch index is falsy
            index = Index(
                ndim=dims,
                metric="ip",
                dtype=STORAGE,
                connectivity=CONNECTIVITY,
                expansion_add=EXPANSION_ADD,
                expansion_search=EXPANSION_SEARCH,
            )
        self.dims = dims
        self._index = index
        self._lock = threading.Lock()

    def upsert(self, keys: Sequence[int], vectors: npt.ArrayLike) -> None:
        """Add the vectors under these keys, replacing a key's vector if it is already here."""
        matrix = self._unit_rows(vectors)
        ids = np.asarray(keys, dtype=np.uint64)
        if len(ids) != len(matrix):
            raise InvalidQuery(f"{len(ids)} keys for {len(matrix)} vectors.")
        if len(np.unique(ids)) != len(ids):
            raise InvalidQuery("Each key may appear once in an upsert.")
        if not len(ids):
            return
        with self._lock:
            present = np.atleast_1d(self._index.contains(ids))
            if present.any():
                self._index.remove(ids[present])
            self._index.add(ids, matrix)

    def remove(self, keys: Sequence[int]) -> int:
        """Remove these keys (absent ones are ignored); returns how many were removed."""
        ids = np.asarray(keys, dtype=np.uint64)
        if not len(ids):
            return 0
        with self._lock:
            return int(np.sum(self._index.remove(ids)))

    def search(self, vector: npt.ArrayLike, k: int) -> list[tuple[int, float]]:
        """Up to `k` (key, cosine similarity) pairs, most similar first."""
        query = self._unit_rows(vector)
        if len(query) != 1:
            raise InvalidQuery("Search takes one vector.")
        if k <= 0:
            return []
        with self._lock:
            exact = len(self._index) * self.dims <= EXACT_SCAN_VALUES
            matches = self._index.search(query[0], k, exact=exact)
            keys, distances = matches.keys, matches.distances
        # usearch's inner-product distance is 1 - dot product.
        return [
            (int(key), 1.0 - float(distance)) for key, distance in zip(keys, distances, strict=True)
        ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    def __contains__(self, key: int) -> bool:
        with self._lock:
            return bool(self._index.contains(key))

    def memory_bytes(self) -> int:
        """Memory usearch has allocated: vectors, graph links and capacity reserved ahead (in
        powers of two, so up to twice what is resident)."""
        with self._lock:
            return int(self._index.memory_usage)

    def save(self, path: Path) -> None:
        with self._lock:
            self._index.save(str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex | None:
        """The index `save` wrote there (None if there is none), read into memory so it can
        change afterwards; usearch raises ValueError or RuntimeError for a damaged file."""
        # The file keeps the graph's connectivity, not the expansions: vectors added after a
        # restart are inserted with the same effort as before it, whatever usearch's default.
        index = Index.restore(
            str(path), expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH
        )
        return None if index is None else cls(int(index.ndim), index)

    def _unit_rows(self, vectors: npt.ArrayLike) -> Vectors:
        matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if matrix.ndim != 2 or matrix.shape[1] != self.dims:
            raise InvalidQuery(
                f"Vectors of this space have {self.dims} dimensions, not shape {matrix.shape}."
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        # A zero vector stays zero (similar to nothing) instead of dividing by zero.
        unit: Vectors = np.ascontiguousarray(matrix / np.maximum(norms, np.float32(1e-12)))
        return unit
