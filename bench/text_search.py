"""Full-text search benchmark: `GET /v1/search` queries on a synthetic embedded catalog.

Builds a SQLite catalog of N images in a temporary folder: each with `tags` results (a class
word drawn from a Zipf-like vocabulary of 2,000 words, one of 8 broad words), every tenth with an
OCR'd claim form holding a unique policy number, and an `image_type`. Then times the search
layer (`search_images`, the SQL the endpoint runs) for rare, common and phrase queries, a second
page through the cursor, filters with and without words, queries no image answers with every
word (the any-word fallback), and `refresh_document` (the index update every finished analysis
makes). Prints p50/p95 per query, with the page's `total` and `strategy`.

Counting `total` (`search.text._ranked_page`): without filters from the text index alone, with
filters in the page's own query; later pages take it from the cursor. At 100,000 images, p50 ms
before -> after, two interleaved rounds on a shared 2-core machine (noisy): broad word 26, 41 ->
37, 50; its page 2 28, 43 -> 40, 42; common word 66, 101 -> 96, 103; broad word + where filter
67, 64 -> 75, 84; rare words, policy numbers and filter-only listings (not counted) unchanged.
The any-word fallback over two broad words (25,019 matches) takes 104-108 ms."""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from sightline.classifiers.features import index_entries
from sightline.search.text import (
    SearchQuery,
    parse_where,
    rebuild_documents,
    refresh_document,
    search_images,
)
from sightline.storage import tables as t
from sightline.stores import Stores, open_stores

VOCABULARY = [f"w{i}" for i in range(2000)]
BROAD = ["animal", "vehicle", "food", "plant", "structure", "device", "clothing", "instrument"]
BATCH = 5000

# The fields every model result starts with.
HEADER: dict[str, Any] = {"model": {"name": "net", "version": "1"}, "width": 64, "height": 48}


def fill(catalog: Stores, count: int) -> float:
    """Insert `count` images with results and index them; returns the indexing seconds."""
    rng = random.Random(1)
    now = datetime.now(UTC)
    with catalog.db.write() as conn:
        for start in range(0, count, BATCH):
            images: list[dict[str, Any]] = []
            results: list[dict[str, Any]] = []
            for i in range(start, min(count, start + BATCH)):
                image_id = f"img_{i:012x}{rng.getrandbits(64):016x}"
                images.append(
                    {
                        "id": image_id,
                        "sha256": f"{i:064x}",
                        "filename": f"IMG_{i}.jpg",
                        "content_type": "image/jpeg",
                        "format": "JPEG",
                        "size": rng.randint(10_000, 5_000_000),
                        "width": rng.choice([640, 1280, 4000]),
                        "height": rng.choice([480, 960, 3000]),
                        "status": "done",
                        "client_metadata": {},
                        "duplicate_of": None,
                        "created_at": now + timedelta(milliseconds=i),
                        "updated_at": now,
                    }
                )
                word = VOCABULARY[min(int(rng.paretovariate(1.0)) - 1, len(VOCABULARY) - 1)]
                sure = rng.random()
                tags = [
                    {
                        "name": word,
                        "confidence": sure,
                        "source": "imagenet",
                        "broader": [rng.choice(BROAD)],
                    }
                ]
                tagged = {**HEADER, "tags": tags, "classes": []}
                results.append(_result(image_id, "tags", tagged, now))
                if i % 10 == 0:
                    texts = [f"Policy Number: POL-2024-{i:06d}", "claim form"]
                    results.append(_result(image_id, "read", _read(texts), now))
                kind = rng.choice(["photo", "clip_art"])
                results.append(_result(image_id, "image_type", {"type": kind}, now))
            conn.execute(insert(t.images), images)
            conn.execute(insert(t.feature_results), results)
        started = time.perf_counter()
        rebuild_documents(conn, index_entries)
        return time.perf_counter() - started


def _read(texts: list[str]) -> dict[str, Any]:
    """A whole `read` result with these lines (documents read results through their model)."""
    box = {"x": 0, "y": 0, "w": 10, "h": 10}
    found = [{"text": t, "confidence": 0.99, "polygon": [], "box": box, "words": []} for t in texts]
    orientation = {"angle": 0, "confidence": 1.0}
    return {**HEADER, "orientation": orientation, "text": "\n".join(texts), "lines": found}


def _result(image_id: str, feature: str, result: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "image_id": image_id,
        "feature": feature,
        "status": "done",
        "analyzer": feature,
        "version": "1",
        "result": result,
        "error": None,
        "updated_at": now,
    }


def timed(catalog: Stores, query: SearchQuery, repeat: int) -> tuple[float, float, Any]:
    times = []
    with catalog.db.read() as conn:
        for _ in range(repeat):
            started = time.perf_counter()
            page = search_images(conn, query)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * len(times)) - 1)], page


def run(count: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        catalog = open_stores(f"sqlite:///{Path(folder) / 'catalog.db'}")
        assert isinstance(catalog, Stores)
        indexing = fill(catalog, count)
        each = indexing / count * 1e6
        print(f"\n{count:,} images: indexed in {indexing:.1f} s ({each:.0f} µs each)")
        policy = f"POL-2024-{count // 20 * 10:06d}"
        first = timed(catalog, SearchQuery(text="animal"), repeat)[2]
        either = timed(catalog, SearchQuery(text="animal vehicle"), repeat)[2]
        photo = parse_where("image_type.type:photo")
        queries = [
            ("rare word", SearchQuery(text="w300")),
            ("policy number (phrase)", SearchQuery(text=policy)),
            ("broad word, 1/8 of images", SearchQuery(text="animal")),
            ("same, page 2 by cursor", SearchQuery(text="animal", cursor=first.next_cursor)),
            ("common word, ~1/2 of images", SearchQuery(text="w0")),
            ("stop words + broad word", SearchQuery(text="the animal of a")),
            ("2 rare words, none has both", SearchQuery(text="w300 w301")),
            ("2 broad words, none has both", SearchQuery(text="animal vehicle")),
            (
                "same, page 2 by cursor",
                SearchQuery(text="animal vehicle", cursor=either.next_cursor),
            ),
            ("broad word + where filter", SearchQuery(text="animal", where=(photo,))),
            ("tag filter only, newest first", SearchQuery(tags=("animal",))),
            ("where filter only", SearchQuery(where=(photo,))),
        ]
        print(f"{'query':<32}{'hits':>6}{'total':>8}{'p50 ms':>9}{'p95 ms':>9}  strategy")
        for label, query in queries:
            p50, p95, page = timed(catalog, query, repeat)
            found = f"{len(page.hits):>6}{page.total if page.total is not None else '-':>8}"
            print(f"{label:<32}{found}{p50:>9.2f}{p95:>9.2f}  {page.strategy or '-'}")
        with catalog.db.read() as conn:
            sample = list(conn.scalars(select(t.images.c.id).limit(1000)))
        with catalog.db.write() as conn:
            started = time.perf_counter()
            for image_id in sample:
                refresh_document(conn, image_id, index_entries)
            each = (time.perf_counter() - started) / len(sample)
        print(f"refresh_document: {each * 1e6:.0f} µs per image")
        catalog.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="image counts")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per query")
    args = parser.parse_args(argv)
    for count in (int(value) for value in args.sizes.split(",")):
        run(count, args.repeat)


if __name__ == "__main__":
    main()
