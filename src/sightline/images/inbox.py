"""Images written straight into the bucket, as in the cloud design: a browser posts to a
presigned URL (or another system drops an object in the inbox), the store's own "object created"
notification reaches Sightline, and the object is catalogued and analysed exactly like an API
upload, then removed from the inbox.

A presigned upload reserves its image id and its inbox key (an unguessable folder and the file
name) when it is handed out, so a notification delivered twice finds the image already there, and
the uploader can follow `GET /v1/uploads/{id}`. An object another system drops in gets its
reservation when it first arrives, keyed by its inbox key and the sha256 of its bytes: delivered
twice, even at once, it is still catalogued once.

A presigned upload goes to the collection it was reserved for; objects other systems drop in go
to the default collection.

Notifications get lost (the store dead-letters them while the API is down), so workers also
reconcile the inbox now and then: every object older than a grace period is catalogued by the
same path a notification takes, which makes a late notification and any number of reconcilers
at once harmless. Then reservations past their expiry (and the grace period) are settled: one
whose image is not there by then is `expired` for good, and an object found later at its key is
removed. The store refuses a form after its expiry, so an object that came in time is older
than the grace period when its reservation is settled: the same pass lists it first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import unquote_plus

from sightline.blobs import BlobStore, Inbox
from sightline.collection import DEFAULT_COLLECTION
from sightline.errors import (
    BlobNotFound,
    DirectUploadsUnavailable,
    InvalidStorageEvent,
    SightlineError,
    UploadNotFound,
)
from sightline.events import EventType, subject_event
from sightline.ids import is_image_id, new_image_id
from sightline.images.pipeline import resolve_features
from sightline.images.service import ImageService, Upload, checked_filename, clean_filename
from sightline.images.store import ImageStore
from sightline.images.uploads import UploadRecord, UploadStore
from sightline.storage.outbox import EventLog

log = logging.getLogger(__name__)

# SeaweedFS's filer keeps S3 buckets as folders under this path.
SEAWEED_BUCKETS = "/buckets/"
SETTLE_BATCH = 200
T = TypeVar("T")


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str


class UploadState(StrEnum):
    WAITING = "waiting"
    CATALOGUED = "catalogued"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Ticket:
    upload: UploadRecord
    url: str
    fields: dict[str, str]
    max_bytes: int


@dataclass(frozen=True)
class Outcome:
    """What one notified object became: `catalogued`, `duplicate` (already catalogued),
    `rejected` (not an acceptable image; `error` says why), `expired` (its upload had expired;
    removed), `gone` (no longer in the inbox) or `ignored` (outside the inbox)."""

    bucket: str
    key: str
    status: str
    image_id: str | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Caught:
    """What one inbox object became (see `Outcome`)."""

    status: str
    image_id: str | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reconciled:
    """One reconciliation: objects catalogued and rejected, uploads expired."""

    catalogued: int = 0
    rejected: int = 0
    expired: int = 0

    def __bool__(self) -> bool:
        return bool(self.catalogued or self.rejected or self.expired)

    def __str__(self) -> str:
        return (
            f"Reconciled the inbox: {self.catalogued} objects catalogued and {self.rejected} "
            f"rejected whose notification never came, {self.expired} uploads expired"
        )


def _until(stopping: threading.Event | None, items: Iterable[T]) -> Iterator[T]:
    """The items, until `stopping` is set."""
    for item in items:
        if stopping is not None and stopping.is_set():
            return
        yield item


def parse_notification(body: Any) -> list[StoredObject]:
    """The created objects a notification names: S3 event records (AWS, MinIO, Ceph…) or a
    SeaweedFS filer webhook. Other events (deletes, folders) name nothing."""
    if isinstance(body, dict) and isinstance(body.get("Records"), list):
        return [_s3_record(record) for record in body["Records"] if _is_s3_create(record)]
    if isinstance(body, dict) and "event_type" in body and isinstance(body.get("key"), str):
        entry = _field(_field(body, "message"), "new_entry")
        path: str = body["key"]
        if body["event_type"] != "create" or entry.get("is_directory"):
            return []
        if not path.startswith(SEAWEED_BUCKETS):
            return []
        bucket, _, key = path[len(SEAWEED_BUCKETS) :].partition("/")
        return [StoredObject(bucket, key)] if bucket and key else []
    raise InvalidStorageEvent(
        'Expected S3 event records ({"Records": [...]}) or a SeaweedFS filer notification.'
    )


def _field(parent: dict[str, Any], name: str) -> dict[str, Any]:
    """An object inside a SeaweedFS notification; an absent one reads as empty."""
    value = parent.get(name) or {}
    if not isinstance(value, dict):
        raise InvalidStorageEvent(f"`{name}` in a SeaweedFS notification must be an object.")
    return value


def _is_s3_create(record: Any) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("s3"), dict):
        raise InvalidStorageEvent("Every S3 event record needs an `s3` object.")
    return str(record.get("eventName", "")).startswith(("ObjectCreated:", "s3:ObjectCreated:"))


def _s3_record(record: dict[str, Any]) -> StoredObject:
    try:
        bucket = record["s3"]["bucket"]["name"]
        key = record["s3"]["object"]["key"]
    except (KeyError, TypeError):
        raise InvalidStorageEvent(
            "An S3 event record lacks s3.bucket.name or s3.object.key."
        ) from None
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise InvalidStorageEvent("s3.bucket.name and s3.object.key must be strings.")
    # S3 event records carry the key URL-encoded, spaces as "+".
    return StoredObject(bucket, unquote_plus(key))


class DirectUploads:
    def __init__(
        self,
        service: ImageService,
        images: ImageStore,
        uploads: UploadStore,
        events: EventLog,
        blobs: BlobStore,
    ) -> None:
        self.service = service
        self.settings = service.settings
        self.images = images
        self.uploads = uploads
        self.events = events
        self.inbox = blobs if isinstance(blobs, Inbox) else None

    def _require_inbox(self) -> Inbox:
        if self.inbox is None:
            raise DirectUploadsUnavailable(
                "Direct uploads need an S3 blob store (SIGHTLINE_BLOB_URL=s3://…); "
                "upload through POST /v1/images instead."
            )
        return self.inbox

    def create(
        self,
        filename: str | None,
        features: list[str] | None,
        metadata: dict[str, Any] | None,
        *,
        collection: str,
    ) -> Ticket:
        """Reserve an image id in `collection` and hand out a presigned form upload for it."""
        inbox = self._require_inbox()
        wanted = resolve_features(
            features, self.service.analyzers(collection), self.service.defaults(collection)
        )
        client_metadata = self.service.parse_metadata(json.dumps(metadata or {}))
        name = checked_filename(filename)
        now = datetime.now(UTC)
        image_id = new_image_id()
        post = inbox.presigned_post(
            name or "upload",
            max_bytes=self.settings.max_upload_bytes,
            expires_seconds=self.settings.upload_url_seconds,
        )
        record = UploadRecord(
            id=image_id,
            inbox_key=post.key,
            filename=name,
            features=wanted,
            client_metadata=client_metadata,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.upload_url_seconds),
            collection=collection,
        )
        self.uploads.create(record)
        return Ticket(record, post.url, post.fields, self.settings.max_upload_bytes)

    def state(self, upload_id: str, *, collection: str | None) -> tuple[UploadRecord, UploadState]:
        """Catalogued once its image exists, rejected with an error; expired once past its
        expiry (for good once settled; until then a late notification may still catalogue it)."""
        record = self.uploads.get(upload_id, collection) if is_image_id(upload_id) else None
        if record is None:
            raise UploadNotFound(f"No direct upload with id {upload_id!r}.")
        if self.images.get_image(upload_id) is not None:
            return record, UploadState.CATALOGUED
        if record.error is not None:
            return record, UploadState.REJECTED
        if record.settled_at is not None or record.expires_at < datetime.now(UTC):
            return record, UploadState.EXPIRED
        return record, UploadState.WAITING

    def receive(self, notification: Any) -> list[Outcome]:
        """Catalogue every object a bucket notification names. Backend failures propagate (the
        store retries the notification); a bad object is rejected and removed."""
        objects = parse_notification(notification)
        inbox = self._require_inbox()
        return [self._receive_one(inbox, stored) for stored in objects]

    def reconcile(
        self, grace_seconds: float, stopping: threading.Event | None = None
    ) -> Reconciled:
        """Catalogue the inbox's objects older than `grace_seconds` (their notification never
        came), then settle the uploads that expired before then. A store without an inbox has
        nothing to reconcile; `stopping` set ends the pass early."""
        if self.inbox is None:
            return Reconciled()
        cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
        found = Counter(
            self._catalogue(self.inbox, key).status
            for key in _until(stopping, self.inbox.list_incoming(cutoff))
        )
        expired = sum(
            self._settle(self.inbox, upload) for upload in _until(stopping, self._unsettled(cutoff))
        )
        return Reconciled(found["catalogued"], found["rejected"], expired)

    def _unsettled(self, expired_before: datetime) -> Iterator[UploadRecord]:
        after = None
        while page := self.uploads.unsettled(expired_before, after, SETTLE_BATCH):
            yield from page
            after = (page[-1].expires_at, page[-1].id)

    def _settle(self, inbox: Inbox, upload: UploadRecord) -> bool:
        """Settle one upload past its expiry; True if it expired without its image. A dropped
        object's reservation with neither image nor error waits: its object, if still in the
        inbox, is retried by the next reconciliation."""
        if self.images.get_image(upload.id) is not None or upload.error is not None:
            self.uploads.settle(upload.id, datetime.now(UTC))
            return False
        if not upload.presigned:
            return False
        # Settled first: whatever arrives at the key from now on is removed, not catalogued.
        self.uploads.settle(upload.id, datetime.now(UTC))
        inbox.delete_incoming(upload.inbox_key)
        return True

    def _receive_one(self, inbox: Inbox, stored: StoredObject) -> Outcome:
        key = inbox.inbox_key(stored.bucket, stored.key)
        if key is None:
            return Outcome(stored.bucket, stored.key, "ignored")
        caught = self._catalogue(inbox, key)
        return Outcome(stored.bucket, stored.key, caught.status, caught.image_id, caught.error)

    def _catalogue(self, inbox: Inbox, key: str) -> Caught:
        """Catalogue the object at the inbox key `key`, once however often it is asked."""

        def outcome(status: str, upload: UploadRecord | None = None, **error: Any) -> Caught:
            return Caught(status, upload.id if upload else None, error or None)

        upload = self.uploads.get_by_key(key)
        try:
            if upload is not None and self.images.get_image(upload.id) is not None:
                inbox.delete_incoming(key)
                return outcome("duplicate", upload)
            if upload is not None and upload.settled_at is not None:
                inbox.delete_incoming(key)
                return outcome("expired", upload)
            data = inbox.read_incoming(key, max_bytes=self.settings.max_upload_bytes)
            if upload is None:
                upload = self._reserve_drop(key, data)
                if self.images.get_image(upload.id) is not None:
                    inbox.delete_incoming(key)
                    return outcome("duplicate", upload)
            self.service.ingest(
                [Upload(data, upload.filename, image_id=upload.id)],
                features=upload.features or None,
                metadata=json.dumps(upload.client_metadata),
                collection=upload.collection,
            )
        except BlobNotFound:
            return outcome("gone", upload)
        except SightlineError as exc:
            if exc.status_code >= 500:
                raise
            error = {"code": exc.code, "message": exc.message}
            self._reject(key, upload, error)
            inbox.delete_incoming(key)
            return outcome("rejected", upload, **error)
        except Exception:
            # The same notification delivered twice at once: the other delivery catalogued it.
            if upload is not None and self.images.get_image(upload.id) is not None:
                return outcome("duplicate", upload)
            raise
        inbox.delete_incoming(key)
        return outcome("catalogued", upload)

    def _reserve_drop(self, key: str, data: bytes) -> UploadRecord:
        """An id for an object another system dropped, the same for every delivery of the same
        bytes at the same key, so a repeated notification cannot catalogue it twice."""
        now = datetime.now(UTC)
        return self.uploads.reserve(
            UploadRecord(
                id=new_image_id(),
                inbox_key=f"{key}@{hashlib.sha256(data).hexdigest()}",
                filename=clean_filename(key.rsplit("/", 1)[-1]),
                features=[],  # the defaults at ingestion
                client_metadata={},
                created_at=now,
                expires_at=now,
            )
        )

    def _reject(self, key: str, upload: UploadRecord | None, error: dict[str, Any]) -> None:
        if upload is not None:
            self.uploads.reject(upload.id, error)
        log.warning("Rejected the inbox object %s: %s", key, error["message"])
        self.events.record_events(
            [
                subject_event(
                    EventType.UPLOAD_REJECTED,
                    f"uploads/{key}",
                    {"key": key, "upload_id": upload.id if upload else None, "error": error},
                    collection=upload.collection if upload else DEFAULT_COLLECTION,
                )
            ]
        )
        self.service.on_event()
