"""What a subscription matches: types, subject prefix and suffix, and data filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sightline.errors import InvalidParameter
from sightline.events import EventType, cloud_event
from sightline.webhooks.filters import check_event_types, check_filters, matches
from sightline.webhooks.store import SubscriptionRecord
from support.strategies import json_objects, json_values


def subscription(**fields: Any) -> SubscriptionRecord:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": "sub_1",
        "name": None,
        "endpoint": "https://example.com/hook",
        "event_types": [],
        "subject_begins_with": None,
        "subject_ends_with": None,
        "data_filters": [],
        "max_events_per_batch": 1,
        "max_attempts": 30,
        "event_ttl_minutes": 1440.0,
        "paused": False,
        "secret": "s" * 32,
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    return SubscriptionRecord(**values)


def event(
    event_type: EventType = EventType.IMAGE_ANALYZED, image_id: str = "img_1", **data: Any
) -> dict[str, Any]:
    return cloud_event(event_type, image_id, {"id": image_id, **data})


def condition(key: str, operator: str, *values: Any) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


def test_no_filter_matches_everything() -> None:
    assert matches(subscription(), event())


def test_a_subscription_for_a_collection_matches_only_events_naming_it() -> None:
    alpha = subscription(collection="alpha")
    assert matches(alpha, cloud_event(EventType.IMAGE_CREATED, "img_1", {}, collection="alpha"))
    assert not matches(alpha, cloud_event(EventType.IMAGE_CREATED, "img_1", {}, collection="beta"))
    assert not matches(alpha, event())  # about the server: no collection
    assert matches(subscription(), cloud_event(EventType.IMAGE_CREATED, "i", {}, collection="b"))


def test_event_types() -> None:
    wanted = subscription(event_types=["sightline.image.analyzed", "sightline.image.failed"])
    assert matches(wanted, event(EventType.IMAGE_ANALYZED))
    assert matches(wanted, event(EventType.IMAGE_FAILED))
    assert not matches(wanted, event(EventType.IMAGE_CREATED))


def test_subject_prefix_and_suffix_ignore_case() -> None:
    assert matches(subscription(subject_begins_with="IMAGES/"), event())
    assert not matches(subscription(subject_begins_with="classifiers/"), event())
    assert matches(subscription(subject_ends_with="IMG_1"), event())
    assert not matches(subscription(subject_ends_with="img_2"), event())


def test_file_name_suffix_is_how_only_jpegs_are_chosen() -> None:
    jpegs = subscription(data_filters=[condition("data.filename", "ends_with", ".jpg", ".jpeg")])
    assert matches(jpegs, event(filename="Beach.JPG"))
    assert matches(jpegs, event(filename="beach.jpeg"))
    assert not matches(jpegs, event(filename="beach.png"))
    assert not matches(jpegs, event(filename=None))
    assert not matches(jpegs, event())


def test_a_collection_in_the_metadata() -> None:
    summer = subscription(data_filters=[condition("data.metadata.collection", "in", "summer")])
    assert matches(summer, event(metadata={"collection": "Summer"}))
    assert not matches(summer, event(metadata={"collection": "winter"}))
    assert not matches(summer, event(metadata={}))
    assert not matches(summer, event(metadata="summer"))


def test_every_filter_must_hold() -> None:
    both = subscription(
        data_filters=[
            condition("data.filename", "begins_with", "scan-"),
            condition("data.metadata.collection", "in", "claims"),
        ]
    )
    assert matches(both, event(filename="SCAN-1.png", metadata={"collection": "claims"}))
    assert not matches(both, event(filename="scan-1.png", metadata={"collection": "other"}))
    assert not matches(both, event(filename="photo.png", metadata={"collection": "claims"}))


def test_any_item_of_a_list_field_may_match() -> None:
    faces = subscription(data_filters=[condition("data.features", "in", "faces")])
    assert matches(faces, event(EventType.IMAGE_CREATED, features=["hash", "faces"]))
    assert not matches(faces, event(EventType.IMAGE_CREATED, features=["hash"]))


def test_numbers_and_booleans_compare_by_value_not_as_text() -> None:
    wide = subscription(data_filters=[condition("data.width", "in", 640, 1280)])
    assert matches(wide, event(width=640))
    assert matches(wide, event(width=640.0))
    assert not matches(wide, event(width="640"))
    flagged = subscription(data_filters=[condition("data.metadata.flag", "in", True)])
    assert matches(flagged, event(metadata={"flag": True}))
    assert not matches(flagged, event(metadata={"flag": 1}))


def test_envelope_fields_outside_data() -> None:
    typed = subscription(data_filters=[condition("type", "ends_with", ".failed")])
    assert matches(typed, event(EventType.IMAGE_FAILED))
    assert not matches(typed, event(EventType.IMAGE_ANALYZED))


@pytest.mark.parametrize(
    "bad",
    [
        condition("", "in", "x"),
        condition("data.filename", "contains", "x"),
        condition("data.filename", "in"),
        condition("data.filename", "ends_with", 3),
        condition("data.filename", "in", {"nested": 1}),
        {"key": "data.filename", "operator": "in", "values": "x"},
    ],
)
def test_malformed_filters_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter):
        check_filters([bad])


def test_too_many_filters_are_refused() -> None:
    with pytest.raises(InvalidParameter):
        check_filters([condition("data.id", "in", "x")] * 26)


def test_unknown_event_types_are_refused() -> None:
    assert check_event_types(["sightline.image.created"] * 2) == ["sightline.image.created"]
    with pytest.raises(InvalidParameter, match="sightline.image.exploded"):
        check_event_types(["sightline.image.exploded"])


@given(st.lists(json_values(), max_size=4))
@example([1])  # not an object: once an AttributeError
def test_any_filters_are_checked_or_refused(filters: list[Any]) -> None:
    try:
        checked = check_filters(filters)
    except InvalidParameter:
        return
    assert check_filters(checked) == checked


conditions = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["type", "subject", "data.filename", "data.metadata.tags", "x.y"]),
        "operator": st.sampled_from(["in", "begins_with", "ends_with"]),
        "values": st.lists(st.text(max_size=8), min_size=1, max_size=3),
    }
)


@given(st.lists(conditions, max_size=3), json_objects(), json_values())
def test_checked_filters_match_any_event_without_failing(
    filters: list[dict[str, Any]], data: dict[str, Any], metadata: Any
) -> None:
    wanted = subscription(data_filters=check_filters(filters))
    envelope = event()
    envelope["data"] = {**data, "metadata": metadata}
    assert matches(wanted, envelope) in (True, False)
