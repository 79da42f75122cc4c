"""CloudEvents 1.0 envelopes (structured JSON mode) for everything that happens to an image."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SPEC_VERSION = "1.0"
SOURCE = "/sightline"


class EventType(StrEnum):
    IMAGE_CREATED = "sightline.image.created"
    IMAGE_REPROCESS_REQUESTED = "sightline.image.reprocess_requested"
    IMAGE_ANALYZED = "sightline.image.analyzed"
    IMAGE_FAILED = "sightline.image.failed"
    IMAGE_DELETED = "sightline.image.deleted"


# Events that ask for analysis: the outbox relay turns each into one job.
JOB_EVENTS = frozenset({EventType.IMAGE_CREATED, EventType.IMAGE_REPROCESS_REQUESTED})


def image_subject(image_id: str) -> str:
    return f"images/{image_id}"


def cloud_event(
    event_type: EventType,
    image_id: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """A new event about an image."""
    return envelope(
        event_id or str(uuid.uuid4()),
        str(event_type),
        image_subject(image_id),
        time or datetime.now(UTC),
        data,
        source=SOURCE,
    )


def envelope(
    event_id: str,
    event_type: str,
    subject: str,
    time: datetime,
    data: dict[str, Any],
    *,
    source: str,
) -> dict[str, Any]:
    """The structured-mode JSON of one event, new or read back from the event log."""
    return {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data,
    }


def derived_event_id(*parts: str) -> str:
    """The same id for the same cause, so an event re-emitted by a retried job is stored once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sightline:" + json.dumps(parts)))
