"""Asking for one feature on many stored images, in the background: backfilling a published
classifier's predictions (on the images of its collection), and re-indexing vectors after a
model change (on every image).

A vector index never mixes two model versions: when the analyzer of a vector feature (say
`embedding`) has a new version, start-up records one re-index request for it (once per
version), and a worker asks for the feature again on every image whose vector another version
made. Searches use the new version's index, which fills as those jobs finish.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sightline.collection import DEFAULT_COLLECTION
from sightline.errors import ImageNotFound
from sightline.events import EventType, JobKind, derived_event_id, subject_event
from sightline.images.service import ImageService
from sightline.images.store import ImageStore
from sightline.queue import Job
from sightline.search.vector_store import VectorStore
from sightline.storage.outbox import EventLog
from sightline.vision import Analyzer

log = logging.getLogger(__name__)
PAGE = 200


def request_reindex(
    vectors: VectorStore, events: EventLog, analyzers: Mapping[str, Analyzer]
) -> list[str]:
    """Record a re-index request for every feature whose stored vectors include another
    version than its analyzer's; returns those features. Idempotent per version."""
    stale = []
    for name, analyzer in analyzers.items():
        versions = vectors.vector_versions(name)
        if set(versions) - {analyzer.version}:
            stale.append(name)
            events.record_events(
                [
                    subject_event(
                        EventType.INDEX_REBUILD_REQUESTED,
                        f"indexes/{name}",
                        {"feature": name, "version": analyzer.version},
                        event_id=derived_event_id("reindex", name, analyzer.version),
                    )
                ]
            )
    return stale


class RequestFeatureJob:
    """Asks for one feature on many stored images, a page at a time: backfilling a published
    classifier's predictions, or recomputing vectors after a model change."""

    def __init__(self, store: ImageStore, vectors: VectorStore, images: ImageService) -> None:
        self.store = store
        self.vectors = vectors
        self.images = images

    def process(self, job: Job) -> None:
        feature: str = job.payload["feature"]
        reindex = job.payload.get("kind") == JobKind.REINDEX
        # A re-index is of a bundled feature, on every image; a backfill of a classifier, on
        # the images of its collection (of the default one, if requested before collections).
        features = self.images.features
        collection: str | None = None
        if reindex:
            analyzer = features.bundled.get(feature)
        else:
            collection = job.payload.get("collection", DEFAULT_COLLECTION)
            analyzer = features.of(collection).get(feature)
        if analyzer is None:
            return  # unpublished or removed meanwhile: nothing to compute
        # A re-index visits exactly the images whose vector another version made; a backfill
        # visits every image and by default skips those whose prediction is current.
        outdated_only = not reindex and bool(job.payload.get("only_missing", True))
        after = ""
        while True:
            if reindex:
                page = self.vectors.images_with_other_vectors(
                    feature, analyzer.version, after, PAGE
                )
            else:
                page = self.store.image_ids_after(after, PAGE, collection)
            if not page:
                return
            for image_id in page:
                try:
                    self.images.reprocess(
                        image_id, [feature], outdated_only=outdated_only, collection=collection
                    )
                except ImageNotFound:
                    continue
            after = page[-1]

    def give_up(self, job: Job, error: str) -> None:
        log.error("Requesting %s on stored images failed: %s", job.payload.get("feature"), error)
