"""`sightline backup` and `sightline restore`: a consistent copy of a deployment with an SQLite
catalog, taken while it serves, and the way back from it.

Consistent means that every blob the copied catalog references is in the copy. The catalog is
copied first, as one moment (SQLite's online backup), then the blobs it references: blobs are
immutable and named by their sha256, so the blob copied is the blob referenced. One that is gone
by then belonged to an image deleted after that moment; the catalog is then copied again, and
only the blobs not copied yet follow, until a copy of the catalog finds all of its blobs
(deletions are rare: a round or two). Blobs of an earlier round that the last catalog no longer
references are removed from the copy. A blob missing from the live store itself (found missing
again by a later round) or holding other bytes than its name says is reported, not hidden.

A backup is a folder: `catalog.db`, `blobs/ab/cd/SHA256` and `backup.json`, written last, under
a temporary name beside the destination that is renamed when whole: a folder without
`backup.json` is no backup. The blob store may be a folder or S3 (read through its interface);
the catalog must be SQLite. A PostgreSQL catalog is refused: `pg_dump` or continuous archiving
copy it consistently, and a versioned (or replicated) bucket keeps every blob a dump references
(see the README's Operations).

Not copied: the job queue (a restored deployment starts a new one, and its outbox relays every
unfinished job into it), the vector index snapshots (a cache of the catalog, rebuilt), models.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from sightline.blobs import BlobStore, open_blob_store
from sightline.blobs.local import LocalBlobStore
from sightline.errors import BlobNotFound, MaintenanceRefused
from sightline.images.sql import SQLImageStore
from sightline.maintenance.inventory import inventory, referenced_blobs
from sightline.maintenance.sweep import Sweeper
from sightline.queue import RetryPolicy, open_queue
from sightline.settings import Settings
from sightline.storage.database import Database
from sightline.storage.outbox import SQLEventLog

CATALOG = "catalog.db"
BLOBS = "blobs"
MANIFEST = "backup.json"
FORMAT = "sightline-backup/1"
MAX_ROUNDS = 10
_SQLITE_FILES = ("", "-wal", "-shm")
POSTGRES_REFUSAL = (
    "sightline backup and restore copy an SQLite catalog. Back a PostgreSQL catalog up with "
    "pg_dump (or continuous archiving), then the bucket; keep its object versions (S3 "
    "versioning) at least as long as the dumps. See the README's Operations section."
)


@dataclass(frozen=True)
class BackupReport:
    path: Path
    images: int
    blobs: int
    bytes: int
    rounds: int
    missing: list[str]  # referenced by the catalog, missing from the store being backed up
    corrupt: list[str]  # stored under a name their bytes do not hash to


@dataclass(frozen=True)
class RestoreReport:
    images: int
    blobs: int
    corrupt: list[str]  # blobs of the backup whose bytes do not hash to their name
    # Blobs no restored image uses: the replaced data's, or ones the copy caught mid-release.
    swept: int


def backup(db: Database, blobs: BlobStore, destination: Path) -> BackupReport:
    if db.path is None:
        raise MaintenanceRefused(POSTGRES_REFUSAL)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise MaintenanceRefused(f"{destination} exists and is not an empty folder.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = destination.parent / f".{destination.name}.partial-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        report = _copy(db, blobs, work, destination)
        (work / MANIFEST).write_text(json.dumps(_manifest(report), indent=2) + "\n")
        work.replace(destination)  # an empty folder is replaced, a full one refused above
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report


def _copy(db: Database, blobs: BlobStore, work: Path, destination: Path) -> BackupReport:
    copy = LocalBlobStore(work / BLOBS)
    missing_before: set[str] | None = None
    corrupt: set[str] = set()
    rounds = 0
    while rounds < MAX_ROUNDS:
        rounds += 1
        db.copy_to(work / CATALOG)
        with _catalog(work / CATALOG) as catalog:
            missing = set()
            for sha256 in referenced_blobs(catalog):
                if sha256 in corrupt or copy.exists(sha256):
                    continue
                try:
                    data = _read(blobs, sha256)
                except BlobNotFound:
                    missing.add(sha256)
                    continue
                if copy.put(data) != sha256:
                    corrupt.add(sha256)  # kept under its true name until the pruning below
        if not missing or missing == missing_before:
            break
        missing_before = missing
    with _catalog(work / CATALOG) as catalog:
        for entry in inventory(copy, catalog):
            if entry.stored is not None and not entry.referenced:
                copy.delete(entry.sha256)
        images = sum(catalog.status_counts().values())
        used = set(referenced_blobs(catalog))
    stored = list(copy.list_blobs())
    return BackupReport(
        path=destination,
        images=images,
        blobs=len(stored),
        bytes=sum(blob.size for blob in stored),
        rounds=rounds,
        missing=sorted(missing),
        corrupt=sorted(corrupt & used),
    )


def _manifest(report: BackupReport) -> dict[str, object]:
    return {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "images": report.images,
        "blobs": report.blobs,
        "bytes": report.bytes,
        "missing": report.missing,
        "corrupt": report.corrupt,
    }


def restore(source: Path, settings: Settings, *, force: bool) -> RestoreReport:
    """Write the backup at `source` into the catalog and blob store `settings` name, with an
    empty queue and no vector index snapshots. Blobs first, the catalog last: a restore that
    fails half-way leaves unreferenced blobs (swept later), never a catalog without its blobs.
    No process may use the target meanwhile."""
    _check_backup(source)
    catalog = Database(settings.resolved_catalog_url())
    try:
        if catalog.path is None:
            raise MaintenanceRefused(POSTGRES_REFUSAL)
        queue_files = _stale_queue(settings)
        blobs = open_blob_store(settings.resolved_blob_url())
        if not force:
            _refuse_if_used(catalog.path, blobs)
        stored = 0
        corrupt = []
        saved = LocalBlobStore(source / BLOBS)
        for blob in saved.list_blobs():
            data = _read(saved, blob.sha256)
            if hashlib.sha256(data).hexdigest() != blob.sha256:
                corrupt.append(blob.sha256)
                continue
            blobs.put(data)
            stored += 1
        catalog.restore_from(source / CATALOG)
        for path in queue_files:
            path.unlink(missing_ok=True)
        # The jobs the backed-up queue held are not in this one: the relay enqueues them all.
        SQLEventLog(catalog).redispatch_unfinished()
        shutil.rmtree(settings.index_dir(), ignore_errors=True)
        images = SQLImageStore(catalog)
        # With the service stopped nothing is in flight, so whatever no image references is
        # garbage: what a forced target held before, and blob rows the snapshot caught between
        # an image's deletion and the release of its blobs.
        swept = Sweeper(images, blobs, grace_seconds=0).sweep()
        return RestoreReport(
            sum(images.status_counts().values()), stored, corrupt, swept.blobs + swept.rows
        )
    finally:
        catalog.dispose()


def _check_backup(source: Path) -> None:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise MaintenanceRefused(
            f"{source} is not a whole Sightline backup (no readable {MANIFEST}): {exc}"
        ) from exc
    if manifest.get("format") != FORMAT or not (source / CATALOG).is_file():
        raise MaintenanceRefused(f"{source} is not a Sightline backup of format {FORMAT}.")


def _stale_queue(settings: Settings) -> list[Path]:
    """The embedded queue's files, to delete: they hold the jobs of the catalog replaced, and a
    job id done there would never run again. Another queue must be empty."""
    url = settings.resolved_queue_url()
    if urlsplit(url).scheme == "sqlite":
        path = Database(url).path
        return [] if path is None else [path.with_name(path.name + end) for end in _SQLITE_FILES]
    queue = open_queue(url, lease_seconds=settings.job_lease_seconds, retry=RetryPolicy())
    try:
        if any(queue.depth().values()):
            raise MaintenanceRefused(
                "The job queue holds jobs: restore with an empty one (e.g. a new Redis "
                "namespace in SIGHTLINE_QUEUE_URL)."
            )
    finally:
        queue.close()
    return []


def _refuse_if_used(catalog: Path, blobs: BlobStore) -> None:
    advice = "restore into a fresh data folder, or stop the service and add --force to replace it"
    if catalog.exists() and catalog.stat().st_size:
        raise MaintenanceRefused(f"The catalog {catalog} exists: {advice}.")
    if next(iter(blobs.list_blobs()), None) is not None:
        raise MaintenanceRefused(f"The blob store already holds blobs: {advice}.")


@contextmanager
def _catalog(path: Path) -> Iterator[SQLImageStore]:
    db = Database(f"sqlite:///{path}")
    try:
        yield SQLImageStore(db)
    finally:
        db.dispose()


def _read(blobs: BlobStore, sha256: str) -> bytes:
    with blobs.open(sha256) as blob:
        return blob.read()
