"""`sightline check`: is everything the catalog promises there, and nothing else?

It verifies, while the service runs:
- every blob an image references is in the store and (unless told not to read them) its bytes
  hash to its name, the sha256;
- no blob, and no catalog row of a blob, is left that no image references, and no part of a
  write that never finished (those younger than the grace period may be writes in flight);
- every pending or running feature has an unfinished analysis event asking for it; without one
  no job would ever end it;
- the queue holds the job of every event relayed to it whose job has not finished, and none of
  them is dead-lettered without its failure recorded.

A finding is confirmed before it is reported (read again, now): what changed while the store
was listed is not a problem.

`repair` does what is safe while the service runs, each through the path the service itself
uses: orphans are released under their row locks (see `sweep`), stale parts removed, stranded
features and derived images whose bytes are lost or wrong (thumbnails) requested again, lost
jobs handed back to the outbox relay, unrecorded dead jobs given fresh attempts. An original
that is missing or corrupt is reported with its images and never repaired: its only other copy
is in a backup (`sightline restore`, or the file put back under its name), and whether to
delete the images instead is the operator's decision, not a check's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sightline.blobs import BlobStore
from sightline.errors import BlobNotFound, ImageNotFound
from sightline.events import JOB_EVENTS, job_id
from sightline.images.service import ImageService
from sightline.images.store import BlobUse
from sightline.maintenance.inventory import inventory
from sightline.maintenance.sweep import BATCH, Sweeper
from sightline.queue import JobQueue, JobState
from sightline.storage.outbox import EventLog
from sightline.storage.statements import chunks

# Items listed per kind of problem; the counts are always whole.
ITEMS_SHOWN = 20
READ_SIZE = 1024 * 1024


class Problem(StrEnum):
    MISSING_ORIGINALS = "missing_originals"
    CORRUPT_ORIGINALS = "corrupt_originals"
    MISSING_ARTIFACTS = "missing_artifacts"
    CORRUPT_ARTIFACTS = "corrupt_artifacts"
    ORPHAN_BLOBS = "orphan_blobs"
    ORPHAN_BLOB_ROWS = "orphan_blob_rows"
    STALE_PARTS = "stale_parts"
    STRANDED_FEATURES = "stranded_features"
    LOST_JOBS = "lost_jobs"
    UNRECORDED_DEAD_JOBS = "unrecorded_dead_jobs"


@dataclass
class Finding:
    found: int = 0
    repaired: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: dict[str, Any]) -> None:
        self.found += 1
        if len(self.items) < ITEMS_SHOWN:
            self.items.append(item)


@dataclass
class CheckReport:
    images: int = 0
    referenced_blobs: int = 0
    stored_blobs: int = 0
    verified_blobs: int = 0
    problems: dict[Problem, Finding] = field(
        default_factory=lambda: {problem: Finding() for problem in Problem}
    )

    @property
    def left(self) -> int:
        """Problems found and not repaired."""
        return sum(finding.found - finding.repaired for finding in self.problems.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "blobs": {
                "referenced": self.referenced_blobs,
                "stored": self.stored_blobs,
                "verified": self.verified_blobs,
            },
            "problems": {
                str(problem): {
                    "found": finding.found,
                    "repaired": finding.repaired,
                    "items": finding.items,
                }
                for problem, finding in self.problems.items()
            },
            "left": self.left,
        }


@dataclass
class _Blobs:
    """What the walk over the store and the references found, before confirmation."""

    orphans: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


class Checker:
    def __init__(
        self,
        sweeper: Sweeper,
        events: EventLog,
        queue: JobQueue,
        service: ImageService,
    ) -> None:
        self.sweeper = sweeper
        self.images = sweeper.images
        self.blobs: BlobStore = sweeper.blobs
        self.events = events
        self.queue = queue
        self.service = service

    def run(self, *, checksums: bool = True, repair: bool = False) -> CheckReport:
        report = CheckReport(images=sum(self.images.status_counts().values()))
        self._check_blobs(report, checksums=checksums, repair=repair)
        self._check_parts(report, repair=repair)
        self._check_features(report, repair=repair)
        self._check_jobs(report, repair=repair)
        return report

    # -- blobs -------------------------------------------------------------------------------

    def _check_blobs(self, report: CheckReport, *, checksums: bool, repair: bool) -> None:
        cutoff = self.sweeper.cutoff()
        walked = _Blobs()
        for entry in inventory(self.blobs, self.images):
            report.stored_blobs += entry.stored is not None
            report.referenced_blobs += entry.referenced
            if self.sweeper.is_orphan(entry, cutoff):
                walked.orphans.append(entry.sha256)
            elif entry.referenced and entry.stored is None:
                walked.missing.append(entry.sha256)
            elif entry.referenced and checksums:
                matches = self._hashes_to_its_name(entry.sha256)
                report.verified_blobs += matches is not None
                if matches is None:
                    walked.missing.append(entry.sha256)
                elif not matches:
                    walked.corrupt.append(entry.sha256)
        self._confirm_orphans(report, walked.orphans, repair=repair)
        self._orphan_rows(report, cutoff, set(walked.orphans), repair=repair)
        missing = self._still_used(walked.missing, gone=True)
        corrupt = self._still_used(walked.corrupt, gone=False)
        kinds = {
            Problem.MISSING_ORIGINALS: [use for use in missing if use.is_original],
            Problem.CORRUPT_ORIGINALS: [use for use in corrupt if use.is_original],
            Problem.MISSING_ARTIFACTS: [use for use in missing if not use.is_original],
            Problem.CORRUPT_ARTIFACTS: [use for use in corrupt if not use.is_original],
        }
        for problem, uses in kinds.items():
            for sha256, blob_uses in _by_blob(uses).items():
                report.problems[problem].add({"sha256": sha256, "uses": blob_uses})
        if not repair:
            return
        # Artifacts are computed from the original: none is made again from a bad one.
        originals = [*kinds[Problem.MISSING_ORIGINALS], *kinds[Problem.CORRUPT_ORIGINALS]]
        bad = {use.image_id for use in originals}
        for problem, wrong_bytes in (
            (Problem.MISSING_ARTIFACTS, False),
            (Problem.CORRUPT_ARTIFACTS, True),
        ):
            uses = [use for use in kinds[problem] if use.image_id not in bad]
            report.problems[problem].repaired = self._recompute(uses, wrong_bytes=wrong_bytes)

    def _hashes_to_its_name(self, sha256: str) -> bool | None:
        """Whether the stored bytes hash to their name; None when they are gone meanwhile."""
        digest = hashlib.sha256()
        try:
            with self.blobs.open(sha256) as blob:
                for chunk in iter(lambda: blob.read(READ_SIZE), b""):
                    digest.update(chunk)
        except BlobNotFound:
            return None
        return digest.hexdigest() == sha256

    def _confirm_orphans(self, report: CheckReport, orphans: list[str], *, repair: bool) -> None:
        referenced_now = {use.sha256 for use in self.images.blob_uses(orphans)}
        confirmed = [sha256 for sha256 in orphans if sha256 not in referenced_now]
        finding = report.problems[Problem.ORPHAN_BLOBS]
        for sha256 in confirmed:
            finding.add({"sha256": sha256})
        if repair:
            finding.repaired = self.sweeper.release(confirmed)

    def _orphan_rows(
        self, report: CheckReport, cutoff: datetime, orphans: set[str], *, repair: bool
    ) -> None:
        # A released orphan blob takes its row with it: only rows without bytes count here.
        rows = [sha256 for sha256 in self.sweeper.orphan_rows(cutoff) if sha256 not in orphans]
        finding = report.problems[Problem.ORPHAN_BLOB_ROWS]
        for sha256 in rows:
            finding.add({"sha256": sha256})
        if repair:
            finding.repaired = self.sweeper.release(rows)

    def _still_used(self, shas: Sequence[str], *, gone: bool) -> list[BlobUse]:
        """The uses of the blobs that images still reference now (and, for blobs found
        missing, that are still missing now: a concurrent upload writes them back)."""
        uses = self.images.blob_uses(shas)
        if gone:
            still_gone = {sha for sha in {use.sha256 for use in uses} if not self.blobs.exists(sha)}
            uses = [use for use in uses if use.sha256 in still_gone]
        return uses

    def _recompute(self, uses: Sequence[BlobUse], *, wrong_bytes: bool) -> int:
        """Ask again for the features whose artifacts these are. Wrong bytes are deleted
        first: the new result would find a blob of that name and keep it. Returns how many
        blobs will be written again."""
        if wrong_bytes:
            for sha256 in sorted({use.sha256 for use in uses}):
                self.blobs.delete(sha256)
        features: dict[str, set[str]] = {}
        for use in uses:
            record = self.images.get_image(use.image_id)
            feature = use.feature(list(record.features)) if record else None
            if feature is not None:
                features.setdefault(use.image_id, set()).add(feature)
        requested = {
            image_id
            for image_id, names in features.items()
            if self._reprocess(image_id, sorted(names))
        }
        return len({use.sha256 for use in uses if use.image_id in requested})

    def _reprocess(self, image_id: str, features: list[str]) -> bool:
        try:
            self.service.reprocess(image_id, features, collection=None)
        except ImageNotFound:
            return False  # deleted meanwhile: nothing left to repair
        return True

    # -- parts, features, jobs ---------------------------------------------------------------

    def _check_parts(self, report: CheckReport, *, repair: bool) -> None:
        grace = self.sweeper.grace_seconds
        finding = report.problems[Problem.STALE_PARTS]
        finding.found = self.blobs.remove_stale_parts(grace, dry_run=True)
        if repair and finding.found:
            finding.repaired = min(finding.found, self.blobs.remove_stale_parts(grace))

    def _check_features(self, report: CheckReport, *, repair: bool) -> None:
        finding = report.problems[Problem.STRANDED_FEATURES]
        for image_id, features in list(self.images.stranded_features()):
            finding.add({"image_id": image_id, "features": features})
            if repair:
                finding.repaired += self._reprocess(image_id, features)

    def _check_jobs(self, report: CheckReport, *, repair: bool) -> None:
        lost_seqs: list[int] = []
        dead: list[str] = []
        after = 0
        while events := self.events.relayed_unfinished(after, BATCH):
            after = events[-1].seq
            jobs = {
                job_id(JOB_EVENTS[event.envelope["type"]], event.envelope["id"]): event
                for event in events
                if event.envelope["type"] in JOB_EVENTS
            }
            states = self.queue.states(list(jobs))
            for job, event in jobs.items():
                state = states.get(job)
                if state is None:
                    lost_seqs.append(event.seq)
                    report.problems[Problem.LOST_JOBS].add(
                        {"job_id": job, "event_type": event.envelope["type"]}
                    )
                elif state is JobState.DEAD:
                    dead.append(job)
                    report.problems[Problem.UNRECORDED_DEAD_JOBS].add({"job_id": job})
        if repair:
            # The relay (of the running service, or of the next to start) enqueues them again.
            report.problems[Problem.LOST_JOBS].repaired = sum(
                self.events.redispatch_unfinished(chunk) for chunk in chunks(lost_seqs)
            )
            report.problems[Problem.UNRECORDED_DEAD_JOBS].repaired = sum(
                self.queue.requeue(job) for job in dead
            )


def _by_blob(uses: Sequence[BlobUse]) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for use in uses:
        found.setdefault(use.sha256, []).append({"image_id": use.image_id, "role": use.role})
    return found
