"""A nearest-neighbour index over one vector space: cosine similarity, integer keys.

Small indexes are scanned exactly. Larger ones are an inverted file (IVF) from `faiss`: k-means
centroids split the vectors into lists, and a search scans only the lists of the centroids
nearest to the query. Vectors are stored as float16 either way (faiss's scalar quantizer): half
the memory of float32, at its recall (a 1280-d cosine moves by about 1e-4).

An IVF, not an HNSW graph (issue 18): at 1M clustered 1280-d vectors on this project's 2-core
machine (`bench/search.py --issue`), usearch's HNSW (16 links, 128 candidates while inserting,
float16) built in 733 s with recall@10 0.964 and p50 1.95 ms a search; this IVF builds in
37-38 s with recall@10 0.999 and p50 2.1 ms. A graph's insertions each search the graph; an
IVF's only compare a vector with the centroids. The lists are learnt from the vectors present
when the index leaves exact scanning, and learnt again whenever it has grown fourfold since, so
that they follow what is stored and stay short; a re-learning reads the stored vectors back
and takes seconds (a 1M build from scratch, three of them included, takes 37 s), which
searches of that index wait for, once per fourfold growth. Removals and re-adds by key are
direct (a hash table from key to list entry).

Other choices were measured and rejected: bfloat16 storage moved near-tied neighbours (recall
0.92 at 1M with HNSW); int8 rounds the components of 1280-d unit vectors (near 0.03) so coarsely
that recall falls to 0.8.

Vectors are normalised here, so callers may pass any non-zero vector of any float type; the
inner product of unit vectors is their cosine similarity.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from sightline.errors import InvalidQuery

Vectors = npt.NDArray[np.float32]
Halves = npt.NDArray[np.float16]

# Up to this many stored values (vectors x dimensions) a search compares the query with every
# vector: exact, and a few ms at most (10k 384-d vectors: 0.4 ms here), so small collections get
# the true nearest neighbours whatever their distribution.
EXACT_SCAN_VALUES = 20_000_000
# Lists per square root of the vectors present when they are learnt (1,130 at 1M vectors, learnt
# at 320k), and how many a search scans: at 1M clustered 1280-d vectors (recall@10 / p50), 8:
# 0.999 / 2.1 ms, 16: 0.999 / 4.0 ms (HNSW before it: 0.964 / 1.95 ms).
LISTS_PER_ROOT = 2
PROBES = 8
# The lists are learnt from at most this many vectors each (faiss's default is 256): k-means
# takes time in proportion, and with 64 recall@10 is the 0.999 above.
TRAINING_PER_LIST = 64
# The lists are learnt again once the vectors have grown this many times over; the vectors are
# read back and added to the new lists this many at a time.
RELEARN_GROWTH = 4
RELEARN_STEP = 50_000
FLOAT16 = faiss.ScalarQuantizer.QT_fp16


class VectorIndex:
    """Unit vectors of one space (fixed dimensions) under integer keys; safe across threads.

    One lock serialises every call: a change may re-learn the lists, which concurrent searches
    must not see, and a search takes a millisecond or a few, so readers waiting for each other
    cost little on a 2-core machine.
    """

    def __init__(self, dims: int, index: Any = None, probes: int = PROBES) -> None:
        self.dims = dims
        self.probes = probes  # lists a search scans, once there are lists
        self._index: Any = _exact_index(dims) if index is None else index
        self._scan_probes()
        self._lock = threading.Lock()

    def upsert(self, keys: Sequence[int], vectors: npt.ArrayLike) -> None:
        """Add the vectors under these keys, replacing a key's vector if it is already here."""
        matrix = self._unit_rows(vectors)
        ids = np.asarray(keys, dtype=np.int64)
        if len(ids) != len(matrix):
            raise InvalidQuery(f"{len(ids)} keys for {len(matrix)} vectors.")
        if len(np.unique(ids)) != len(ids):
            raise InvalidQuery("Each key may appear once in an upsert.")
        if not len(ids):
            return
        with self._lock:
            self._index.remove_ids(ids)
            self._index.add_with_ids(matrix, ids)
            self._relearn_if_grown()

    def remove(self, keys: Sequence[int]) -> int:
        """Remove these keys (absent ones are ignored); returns how many were removed."""
        ids = np.unique(np.asarray(keys, dtype=np.int64))
        if not len(ids):
            return 0
        with self._lock:
            return int(self._index.remove_ids(ids))

    def search(self, vector: npt.ArrayLike, k: int) -> list[tuple[int, float]]:
        """Up to `k` (key, cosine similarity) pairs, most similar first."""
        query = self._unit_rows(vector)
        if len(query) != 1:
            raise InvalidQuery("Search takes one vector.")
        if k <= 0:
            return []
        with self._lock:
            if not self._index.ntotal:
                return []
            similarities, keys = self._index.search(query, k)
        return [
            (int(key), float(similarity))
            for key, similarity in zip(keys[0], similarities[0], strict=True)
            if key >= 0  # fewer than k found
        ]

    def __len__(self) -> int:
        with self._lock:
            return int(self._index.ntotal)

    @property
    def lists(self) -> int:
        """The lists of the inverted file; 0 while every vector is compared (a small index)."""
        with self._lock:
            return _lists(self._index)

    def __contains__(self, key: int) -> bool:
        with self._lock:
            try:
                self._index.reconstruct(int(key))
            except RuntimeError:  # faiss: the key is not here
                return False
            return True

    def save(self, path: Path) -> None:
        with self._lock:
            faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, probes: int = PROBES) -> VectorIndex | None:
        """The index `save` wrote there (None if there is none), read into memory so it can
        change afterwards; a damaged file raises RuntimeError (faiss's) or ValueError."""
        if not path.exists():
            return None
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap2 | faiss.IndexIVFScalarQuantizer):
            raise ValueError(f"{path.name} holds no vector index of this version")
        return cls(int(index.d), index, probes)

    def _relearn_if_grown(self) -> None:
        """Leave exact scanning once the vectors pass its bound; learn the lists again once
        they have grown `RELEARN_GROWTH` times over since they were learnt."""
        count = int(self._index.ntotal)
        if count * self.dims <= EXACT_SCAN_VALUES:
            return
        lists = _lists(self._index)
        if lists and _lists_for(count) < math.isqrt(RELEARN_GROWTH) * lists:
            return
        keys, vectors = _stored(self._index)
        self._index = _learnt_index(keys, vectors)
        self._scan_probes()

    def _scan_probes(self) -> None:
        if isinstance(self._index, faiss.IndexIVFScalarQuantizer):
            self._index.nprobe = self.probes

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


def _exact_index(dims: int) -> Any:
    """Every vector compared with the query, float16, under its key."""
    flat = faiss.IndexScalarQuantizer(dims, FLOAT16, faiss.METRIC_INNER_PRODUCT)
    return faiss.IndexIDMap2(flat)


def _lists_for(count: int) -> int:
    return max(1, LISTS_PER_ROOT * math.isqrt(count))


def _lists(index: Any) -> int:
    """The lists of an inverted file; 0 for the exact index."""
    return int(index.nlist) if isinstance(index, faiss.IndexIVFScalarQuantizer) else 0


def _learnt_index(keys: npt.NDArray[np.int64], vectors: Halves) -> Any:
    """An inverted file whose lists are learnt from `vectors`, holding them under `keys`."""
    count, dims = vectors.shape
    lists = _lists_for(count)
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dims), dims, lists, FLOAT16, faiss.METRIC_INNER_PRODUCT
    )
    # The vectors themselves in float16, not their differences from the centroids: as precise,
    # and readable back as they are when the lists are learnt again.
    index.by_residual = False
    index.cp.verbose = False
    sample = np.random.default_rng(1234).permutation(count)[: lists * TRAINING_PER_LIST]
    index.cp.seed = 1234  # the same vectors learn the same lists
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
    # Removal and lookup by key (faiss's type stubs lack DirectMap).
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
    # In steps, so that only one step at a time is held as float32 beside the float16 copy.
    for start in range(0, count, RELEARN_STEP):
        step = slice(start, start + RELEARN_STEP)
        index.add_with_ids(np.ascontiguousarray(vectors[step], dtype=np.float32), keys[step])
    return index


def _stored(index: Any) -> tuple[npt.NDArray[np.int64], Halves]:
    """Every key and its vector (float16, as stored), read back from either kind of index."""
    if isinstance(index, faiss.IndexIDMap2):
        flat: Any = faiss.downcast_index(index.index)
        keys = faiss.vector_to_array(index.id_map).astype(np.int64)
        return keys, _halves(faiss.vector_to_array(flat.codes), index.d)
    found_keys, found_vectors = [], []
    lists = index.invlists
    for number in range(index.nlist):
        size = lists.list_size(number)
        if not size:
            continue
        found_keys.append(faiss.rev_swig_ptr(lists.get_ids(number), size).copy())
        codes = faiss.rev_swig_ptr(lists.get_codes(number), size * index.code_size)
        found_vectors.append(_halves(codes, index.d))
    if not found_keys:
        return np.empty(0, dtype=np.int64), np.empty((0, index.d), dtype=np.float16)
    return np.concatenate(found_keys).astype(np.int64), np.concatenate(found_vectors)


def _halves(codes: npt.NDArray[np.uint8], dims: int) -> Halves:
    """float16 codes (the scalar quantizer's, as stored) as a matrix of vectors."""
    return np.frombuffer(codes.tobytes(), dtype=np.float16).reshape(-1, dims)
