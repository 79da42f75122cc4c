"""Bucket notifications read over any input: S3 event records, SeaweedFS filer webhooks, and
whatever else arrives at `/v1/storage/events`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

from hypothesis import example, given
from hypothesis import strategies as st

from sightline.errors import InvalidStorageEvent
from sightline.images.inbox import SEAWEED_BUCKETS, StoredObject, parse_notification
from support.strategies import json_values, texts


@given(json_values())
@example({"event_type": "create", "key": "/buckets/b/k", "message": "x"})  # once a crash
@example({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": 1}}]})
def test_any_notification_names_objects_or_is_refused(body: Any) -> None:
    try:
        objects = parse_notification(body)
    except InvalidStorageEvent:
        return
    assert all(isinstance(found, StoredObject) for found in objects)


@given(texts.filter(lambda name: name and "/" not in name), texts.filter(bool))
def test_a_seaweed_creation_names_its_object(bucket: str, key: str) -> None:
    body = {
        "event_type": "create",
        "key": f"{SEAWEED_BUCKETS}{bucket}/{key}",
        "message": {"new_entry": {"is_directory": False}},
    }
    assert parse_notification(body) == [StoredObject(bucket, key)]


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=40))
def test_an_s3_record_names_its_object(bucket: str, key: str) -> None:
    s3 = {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}}  # keys come encoded
    record = {"eventName": "ObjectCreated:Put", "s3": s3}
    assert parse_notification({"Records": [record]}) == [StoredObject(bucket, key)]
