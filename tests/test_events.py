"""CloudEvents 1.0 envelopes and deterministic event ids."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sightline.events import JOB_EVENTS, EventType, JobKind, cloud_event, derived_event_id

# RFC 3339 date-time in UTC with the "Z" designator, optional fractional seconds.
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def test_cloud_event_has_the_required_and_optional_attributes() -> None:
    before = datetime.now(UTC)
    event = cloud_event(EventType.IMAGE_CREATED, "img_1", {"id": "img_1", "n": 2})
    after = datetime.now(UTC)

    assert event["specversion"] == "1.0"
    assert isinstance(event["id"], str) and event["id"]
    assert isinstance(event["source"], str) and event["source"]
    assert event["type"] == "sightline.image.created"
    assert type(event["type"]) is str
    assert event["subject"] == "images/img_1"
    assert event["datacontenttype"] == "application/json"
    assert event["data"] == {"id": "img_1", "n": 2}
    assert RFC3339_UTC.fullmatch(event["time"]), event["time"]
    stamped = datetime.fromisoformat(event["time"])
    assert stamped.utcoffset() == timedelta(0)
    assert before <= stamped <= after


def test_cloud_event_ids_are_unique_unless_given() -> None:
    first = cloud_event(EventType.IMAGE_DELETED, "img_1", {})
    second = cloud_event(EventType.IMAGE_DELETED, "img_1", {})
    assert first["id"] != second["id"]
    given = cloud_event(EventType.IMAGE_DELETED, "img_1", {}, event_id="fixed")
    assert given["id"] == "fixed"


def test_cloud_event_with_an_explicit_time() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    event = cloud_event(EventType.IMAGE_ANALYZED, "img_1", {}, time=when)
    assert event["time"] == "2024-05-06T07:08:09.123456Z"
    assert datetime.fromisoformat(event["time"]) == when


def test_cloud_event_is_json_serialisable() -> None:
    event = cloud_event(EventType.IMAGE_FAILED, "img_1", {"errors": {"hash": {"code": "X"}}})
    assert json.loads(json.dumps(event)) == event


@pytest.mark.parametrize("event_type", list(EventType))
def test_event_types_are_reverse_dns_names(event_type: EventType) -> None:
    assert re.fullmatch(r"sightline\.(image|classifier|index|upload)\.[a-z_]+", str(event_type))


def test_job_events_are_the_ones_that_ask_for_work() -> None:
    assert JOB_EVENTS == {
        EventType.IMAGE_CREATED: JobKind.ANALYZE,
        EventType.IMAGE_REPROCESS_REQUESTED: JobKind.ANALYZE,
        EventType.CLASSIFIER_TRAINING_REQUESTED: JobKind.TRAIN,
        EventType.CLASSIFIER_BACKFILL_REQUESTED: JobKind.BACKFILL,
        EventType.INDEX_REBUILD_REQUESTED: JobKind.REINDEX,
    }


def test_derived_event_id_is_deterministic() -> None:
    assert derived_event_id("analyze:abc", "finished") == derived_event_id(
        "analyze:abc", "finished"
    )
    # A valid UUID string, like random ids.
    assert str(uuid.UUID(derived_event_id("job", "dead"))) == derived_event_id("job", "dead")


@pytest.mark.parametrize(
    "other",
    [
        ("analyze:abd", "finished"),
        ("analyze:abc", "dead"),
        ("finished", "analyze:abc"),
        ("analyze:abc",),
        ("analyze:abc", "finished", "again"),
    ],
)
def test_derived_event_id_differs_per_input(other: tuple[str, ...]) -> None:
    assert derived_event_id("analyze:abc", "finished") != derived_event_id(*other)
