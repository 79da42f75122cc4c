"""Bucket notifications read over any input: S3 event records, SeaweedFS filer webhooks, and
whatever else arrives at `/v1/storage/events`; the inbox reconciled when notifications never
came (a real SeaweedFS that notifies nobody), and direct uploads settled past their expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sightline.app import Sightline
from sightline.collection import DEFAULT_COLLECTION
from sightline.errors import InvalidStorageEvent
from sightline.images.inbox import (
    SEAWEED_BUCKETS,
    Reconciled,
    StoredObject,
    Ticket,
    UploadState,
    parse_notification,
)
from sightline.images.store import ImageQuery
from sightline.settings import Settings
from support.imagegen import solid
from support.services import SeaweedS3, Stack
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


# -- reconciling the inbox: objects whose notification never came ------------------------------

PREFIX = "library"


@dataclass
class Bucket:
    """A process's catalog on a bucket of the session's SeaweedFS, which notifies nobody: as if
    every notification had been lost."""

    app: Sightline
    s3: SeaweedS3
    name: str

    def objects(self) -> list[str]:
        listed = self.s3.client().list_objects_v2(Bucket=self.name, Prefix=f"{PREFIX}/incoming/")
        return [entry["Key"] for entry in listed.get("Contents", [])]

    def drop(self, key: str, data: bytes) -> None:
        self.s3.client().put_object(Bucket=self.name, Key=f"{PREFIX}/incoming/{key}", Body=data)

    def reserve(self, filename: str = "x.png") -> Ticket:
        return self.app.uploads.create(filename, ["color"], None, collection=DEFAULT_COLLECTION)

    def status(self, ticket: Ticket) -> UploadState:
        return self.app.uploads.state(ticket.upload.id, collection=None)[1]


def post_form(ticket: Ticket, data: bytes) -> None:
    """What a browser's form does: the fields as given, then the file."""
    answer = httpx.post(ticket.url, data=ticket.fields, files={"file": ("x.png", data)})
    assert answer.status_code in (200, 201, 204), answer.text


@pytest.fixture
def bucket(services: Stack, settings: Settings) -> Iterator[Bucket]:
    name = services.s3.new_bucket()
    app = Sightline(
        settings.model_copy(
            update={
                "blob_url": services.s3.blob_url(name, PREFIX),
                "inbox_reconcile_seconds": 0,  # each test reconciles when it means to
                "inbox_grace_seconds": 0.001,
                "upload_url_seconds": 2,
            }
        )
    )
    try:
        yield Bucket(app, services.s3, name)
    finally:
        app.close()


@pytest.mark.s3
def test_objects_whose_notification_never_came_are_catalogued(bucket: Bucket) -> None:
    ticket = bucket.reserve("lost.png")
    post_form(ticket, solid("red", fmt="PNG"))
    bucket.drop("camera-7/shot.png", solid("blue", fmt="PNG"))
    assert bucket.status(ticket) is UploadState.WAITING

    assert bucket.app.uploads.reconcile(0.001) == Reconciled(catalogued=2)
    assert bucket.status(ticket) is UploadState.CATALOGUED
    image = bucket.app.stores.images.get_image(ticket.upload.id)
    assert image is not None and image.filename == "lost.png"
    assert bucket.objects() == []
    assert not bucket.app.uploads.reconcile(0.001)  # nothing more: reconciling is idempotent
    assert len(bucket.app.stores.images.list_images(ImageQuery())) == 2


@pytest.mark.s3
def test_objects_younger_than_the_grace_period_are_left_to_their_notification(
    bucket: Bucket,
) -> None:
    bucket.drop("camera-7/just-now.png", solid("green", fmt="PNG"))
    assert not bucket.app.uploads.reconcile(3600)
    assert bucket.objects() == [f"{PREFIX}/incoming/camera-7/just-now.png"]


@pytest.mark.s3
def test_uploads_past_their_expiry_are_settled(bucket: Bucket) -> None:
    abandoned = bucket.reserve("never-sent.png")
    in_time = bucket.reserve("sent-in-time.png")
    post_form(in_time, solid("red", fmt="PNG"))
    time.sleep(2.5)  # both forms expire
    assert bucket.status(abandoned) is UploadState.EXPIRED

    # The object that came in time is catalogued, though found after the expiry.
    assert bucket.app.uploads.reconcile(0.001) == Reconciled(catalogued=1, expired=1)
    assert bucket.status(in_time) is UploadState.CATALOGUED
    assert bucket.status(abandoned) is UploadState.EXPIRED

    # Expired for good: an object arriving later at its key (a store whose clock lags) is
    # removed, by the reconciler as by a notification.
    bucket.drop(abandoned.upload.inbox_key, solid("green", fmt="PNG"))
    assert bucket.app.uploads.reconcile(0.001) == Reconciled()
    assert bucket.objects() == []
    bucket.drop(abandoned.upload.inbox_key, solid("green", fmt="PNG"))
    [outcome] = bucket.app.uploads.receive(
        {"Records": [_record(bucket.name, f"{PREFIX}/incoming/{abandoned.upload.inbox_key}")]}
    )
    assert outcome.status == "expired"
    assert bucket.objects() == []
    assert bucket.status(abandoned) is UploadState.EXPIRED
    assert bucket.app.stores.images.get_image(abandoned.upload.id) is None


@pytest.mark.s3
def test_reconcilers_at_once_catalogue_each_object_once(bucket: Bucket) -> None:
    other = Sightline(bucket.app.settings)  # another process on the same catalog and bucket
    try:
        tickets = [bucket.reserve(f"form-{n}.png") for n in range(3)]
        for n, ticket in enumerate(tickets):
            post_form(ticket, solid("red", fmt="PNG", size=(40 + n, 40)))
        for n in range(3):
            bucket.drop(f"camera/{n}.png", solid("blue", fmt="PNG", size=(40 + n, 40)))
        reconcilers = [bucket.app.uploads, other.uploads] * 2
        with ThreadPoolExecutor(len(reconcilers)) as pool:
            passes = list(pool.map(lambda uploads: uploads.reconcile(0.001), reconcilers))
        assert sum(done.catalogued for done in passes) == 6
    finally:
        other.close()
    assert all(bucket.status(ticket) is UploadState.CATALOGUED for ticket in tickets)
    assert len(bucket.app.stores.images.list_images(ImageQuery())) == 6
    assert bucket.objects() == []


def _record(bucket: str, key: str) -> dict[str, Any]:
    s3 = {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}}
    return {"eventName": "ObjectCreated:Put", "s3": s3}
