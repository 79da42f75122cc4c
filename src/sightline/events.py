"""CloudEvents 1.0 envelopes (structured JSON mode) for everything that happens to an image,
a classifier or a search index.

An event about something in a collection (an image, a classifier, a direct upload) carries the
collection's name as the CloudEvents extension attribute `collection`: the event stream and
webhook subscriptions of a caller bound to a collection deliver only events that name it.
Events about the server itself (a search index's rebuild) have none."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sightline.logs import current_request_id

SPEC_VERSION = "1.0"
SOURCE = "/sightline"
COLLECTION_ATTRIBUTE = "collection"  # a CloudEvents extension attribute
# The request that caused the event (its `X-Request-ID`), directly or through the job it asked
# for; events made outside any request (a backfill's, a sweep's) have none.
REQUEST_ID_ATTRIBUTE = "requestid"  # an extension attribute: lower-case letters and digits only


class EventType(StrEnum):
    IMAGE_CREATED = "sightline.image.created"
    IMAGE_REPROCESS_REQUESTED = "sightline.image.reprocess_requested"
    IMAGE_ANALYZED = "sightline.image.analyzed"
    IMAGE_FAILED = "sightline.image.failed"
    IMAGE_DELETED = "sightline.image.deleted"
    CLASSIFIER_TRAINING_REQUESTED = "sightline.classifier.training_requested"
    CLASSIFIER_TRAINED = "sightline.classifier.trained"
    CLASSIFIER_TRAINING_FAILED = "sightline.classifier.training_failed"
    CLASSIFIER_BACKFILL_REQUESTED = "sightline.classifier.backfill_requested"
    INDEX_REBUILD_REQUESTED = "sightline.index.rebuild_requested"
    UPLOAD_REJECTED = "sightline.upload.rejected"


class JobKind(StrEnum):
    ANALYZE = "analyze"
    TRAIN = "train"
    BACKFILL = "backfill"
    REINDEX = "reindex"


# Events that ask for work: the outbox relay turns each into one job of this kind, with the
# event's data as the job's payload.
JOB_EVENTS = {
    EventType.IMAGE_CREATED: JobKind.ANALYZE,
    EventType.IMAGE_REPROCESS_REQUESTED: JobKind.ANALYZE,
    EventType.CLASSIFIER_TRAINING_REQUESTED: JobKind.TRAIN,
    EventType.CLASSIFIER_BACKFILL_REQUESTED: JobKind.BACKFILL,
    EventType.INDEX_REBUILD_REQUESTED: JobKind.REINDEX,
}


def job_id(kind: JobKind, event_id: str) -> str:
    """A job is named after the event that asked for it: the same event never makes two jobs."""
    return f"{kind}:{event_id}"


def job_event_id(job_id: str) -> str:
    return job_id.partition(":")[2]


def image_subject(image_id: str) -> str:
    return f"images/{image_id}"


def subject_event(
    event_type: EventType,
    subject: str,
    data: dict[str, Any],
    *,
    collection: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A new event about something other than one image, e.g. `classifiers/clf_…`."""
    return envelope(
        event_id or str(uuid.uuid4()),
        str(event_type),
        subject,
        datetime.now(UTC),
        data,
        source=SOURCE,
        collection=collection,
        request_id=current_request_id(),
    )


def cloud_event(
    event_type: EventType,
    image_id: str,
    data: dict[str, Any],
    *,
    collection: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """A new event about an image (of `collection`)."""
    return envelope(
        event_id or str(uuid.uuid4()),
        str(event_type),
        image_subject(image_id),
        time or datetime.now(UTC),
        data,
        source=SOURCE,
        collection=collection,
        request_id=current_request_id(),
    )


def envelope(
    event_id: str,
    event_type: str,
    subject: str,
    time: datetime,
    data: dict[str, Any],
    *,
    source: str,
    collection: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The structured-mode JSON of one event, new or read back from the event log."""
    found = {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data,
    }
    if collection is not None:
        found[COLLECTION_ATTRIBUTE] = collection
    if request_id is not None:
        found[REQUEST_ID_ATTRIBUTE] = request_id
    return found


def derived_event_id(*parts: str) -> str:
    """The same id for the same cause, so an event re-emitted by a retried job is stored once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sightline:" + json.dumps(parts)))
