"""Vector search benchmark: the index behind similar-image and semantic search vs exact search.

For each size, synthetic unit vectors go into a `VectorIndex` (usearch HNSW, float16 storage,
the service's settings) in pages as the catalog catch-up adds them. Then, one query at a time
as an API request makes them, k=10:

- **index**: p50/p95 latency and recall@10, the share of the exact top 10 the index returns.
- **exact**: brute force over the float32 vectors (one matrix-vector product and a partial
  sort in numpy): the reference for recall and the latency an index must beat.
- **memory**: how much the process's resident memory grew while building the index (what it
  really occupies), usearch's own count (which includes capacity reserved ahead, in powers of
  two, and not yet touched), and the peak RSS so far (it includes the float32 copy of the data
  that exact search needs, which the service does not hold).
- **save / load**: writing the index to disk and reading it back: what a restart costs with a
  snapshot, against the build time without one.

Vectors are clustered by default (a Gaussian mixture, normalised), as real embeddings are;
`--uniform` draws uniform noise on the sphere instead, the pathological case for any index (all
neighbours nearly equally far), where recall is lower.

    .venv/bin/python bench/search.py                                  # 10k, 100k at 384-d
    .venv/bin/python bench/search.py --sizes 10000,1000000 --dims 384  # the issue's sizes
    .venv/bin/python bench/search.py --sizes 100000 --dims 1280 --json

Building is the slow part on two cores (about 1,500-3,000 vectors/s at 1M and 384-d, fewer at
higher dimensions), so 1M vectors take several minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from procstatus import MIB, memory_mib
from sightline.search.vector_index import STORAGE, VectorIndex
from sightline.search.vectors import PAGE

K = 10
Matrix = npt.NDArray[np.float32]


@dataclass
class Figures:
    vectors: int
    dims: int
    data: str
    build_s: float
    build_vectors_per_s: float
    p50_ms: float
    p95_ms: float
    recall_at_10: float
    exact_p50_ms: float
    exact_p95_ms: float
    index_rss_mib: float
    index_reserved_mib: float
    save_s: float
    load_s: float
    peak_rss_mib: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the vector index against exact search.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated vector counts")
    parser.add_argument("--dims", type=int, default=384, help="dimensions (embedding: 1280)")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per size")
    parser.add_argument("--uniform", action="store_true", help="uniform noise, not clusters")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


# -- data ------------------------------------------------------------------------------------


def unit_vectors(count: int, dims: int, clusters: int, seed: int, uniform: bool) -> Matrix:
    """`count` unit vectors, clustered ones from a mixture of `clusters` Gaussians of differing
    spread; the mixture depends on `clusters` alone, so queries drawn with the same number come
    from the data's clusters."""
    rng = np.random.default_rng(seed)
    layout = np.random.default_rng(clusters)
    centres = layout.standard_normal((clusters, dims), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Noise of length 0.5-1.5 around a unit centre: a cluster's members have cosine 0.3-0.8.
    spreads = layout.uniform(0.5, 1.5, clusters).astype(np.float32) / np.sqrt(dims)
    out = np.empty((count, dims), dtype=np.float32)
    for start in range(0, count, 100_000):  # in slices: 1M x 1280 float32 is 5 GB already
        size = min(100_000, count - start)
        noise = rng.standard_normal((size, dims), dtype=np.float32)
        if uniform:
            out[start : start + size] = noise
        else:
            which = rng.integers(0, clusters, size)
            out[start : start + size] = centres[which] + noise * spreads[which, None]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


# -- measuring -------------------------------------------------------------------------------


def exact_top(data: Matrix, query: Matrix) -> npt.NDArray[np.int64]:
    similarities = data @ query
    top = np.argpartition(-similarities, K)[:K]
    ordered: npt.NDArray[np.int64] = top[np.argsort(-similarities[top])]
    return ordered


def timed(items: Sequence[Matrix], step: Callable[[Matrix], object]) -> list[float]:
    latencies = []
    for item in items:
        started = time.perf_counter()
        step(item)
        latencies.append(time.perf_counter() - started)
    return latencies


def measure(count: int, dims: int, queries: int, uniform: bool) -> Figures:
    clusters = max(10, int(np.sqrt(count)))
    data = unit_vectors(count, dims, clusters, seed=1, uniform=uniform)
    probes = list(unit_vectors(queries, dims, clusters, seed=2, uniform=uniform))
    truth = [set(exact_top(data, probe).tolist()) for probe in probes]

    resident = memory_mib("VmRSS")
    index = VectorIndex(dims)
    started = time.perf_counter()
    for start in range(0, count, PAGE):
        index.upsert(range(start, min(start + PAGE, count)), data[start : start + PAGE])
    build = time.perf_counter() - started
    index_rss = memory_mib("VmRSS") - resident

    for probe in probes[:20]:  # warm-up
        index.search(probe, K)
    latencies = timed(probes, lambda probe: index.search(probe, K))
    recall = [
        len({key for key, _score in index.search(probe, K)} & expected) / K
        for probe, expected in zip(probes, truth, strict=True)
    ]
    exact = timed(probes, lambda probe: exact_top(data, probe))

    with tempfile.TemporaryDirectory(prefix="sightline-bench-") as folder:
        path = Path(folder) / "index.usearch"
        started = time.perf_counter()
        index.save(path)
        saved = time.perf_counter() - started
        started = time.perf_counter()
        VectorIndex.load(path)
        loaded = time.perf_counter() - started

    return Figures(
        vectors=count,
        dims=dims,
        data="uniform" if uniform else "clustered",
        build_s=round(build, 1),
        build_vectors_per_s=round(count / build),
        p50_ms=ms(statistics.median(latencies)),
        p95_ms=ms(float(np.percentile(latencies, 95))),
        recall_at_10=round(float(np.mean(recall)), 4),
        exact_p50_ms=ms(statistics.median(exact)),
        exact_p95_ms=ms(float(np.percentile(exact, 95))),
        index_rss_mib=round(index_rss, 1),
        index_reserved_mib=round(index.memory_bytes() / MIB, 1),
        save_s=round(saved, 2),
        load_s=round(loaded, 2),
        peak_rss_mib=round(memory_mib("VmHWM"), 1),
    )


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    rows = []
    for size in sizes:
        print(f"  measuring {size} x {args.dims}", file=sys.stderr)
        rows.append(measure(size, args.dims, args.queries, args.uniform))
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
        return
    print(
        f"{'vectors':>9}{'dims':>6}{'build s':>9}{'vec/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'recall@10':>10}{'exact p50':>10}{'exact p95':>10}{'index MiB':>10}{'reserved':>9}"
        f"{'save s':>8}{'load s':>8}{'peak RSS':>10}"
    )
    for row in rows:
        print(
            f"{row.vectors:>9}{row.dims:>6}{row.build_s:>9.1f}{row.build_vectors_per_s:>8}"
            f"{row.p50_ms:>8.3f}{row.p95_ms:>8.3f}{row.recall_at_10:>10.4f}"
            f"{row.exact_p50_ms:>10.2f}{row.exact_p95_ms:>10.2f}{row.index_rss_mib:>10.1f}"
            f"{row.index_reserved_mib:>9.1f}"
            f"{row.save_s:>8.2f}{row.load_s:>8.2f}{row.peak_rss_mib:>10.1f}"
        )
    print(
        f"{rows[0].data} unit vectors, {args.queries} queries of k={K} one at a time; index: "
        f"usearch HNSW, {STORAGE} storage; exact: float32 brute force in numpy; peak RSS "
        f"includes the float32 data kept for exact search"
    )


if __name__ == "__main__":
    main()
