"""`/v1/uploads` and `/v1/storage/events`: images written straight into the bucket.

A browser asks for a presigned form upload, posts the file to the object store itself, and the
store's "object created" notification, delivered to `/v1/storage/events`, makes it an image.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from sightline import json_input
from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.images import read_body
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import RequestBody
from sightline.api.scope import ReadCollection, WriteCollection, no_collection
from sightline.errors import (
    BackendError,
    DirectUploadsUnavailable,
    InsufficientStorage,
    InvalidFeature,
    InvalidMetadata,
    InvalidStorageEvent,
    PayloadTooLarge,
    UploadNotFound,
)
from sightline.images.inbox import DirectUploads, Outcome, UploadState
from sightline.images.uploads import UploadRecord

router = APIRouter(tags=["direct uploads"], route_class=StrictJSONRoute)
Uploads = Annotated[DirectUploads, deps.part("uploads")]
MAX_NOTIFICATION_BYTES = 1024 * 1024


class UploadIn(RequestBody):
    model_config = examples(shown.UPLOAD_IN)

    filename: str | None = Field(
        None,
        description="The file's name, kept with the image (its base name: 255 characters at most).",
    )
    features: list[str] | None = Field(
        None, description="Features to compute; default: the server's set."
    )
    metadata: dict[str, Any] | None = Field(None, description="Client metadata, as on upload.")


class UploadOut(BaseModel):
    model_config = examples(shown.UPLOAD)

    id: str = Field(description="The upload's id, which the image will have once catalogued.")
    collection: str = Field(description="The collection the image goes to.")
    status: UploadState
    image_id: str | None = Field(description="Set once the object arrived and was catalogued.")
    filename: str | None
    features: list[str]
    expires_at: datetime = Field(description="The presigned form is refused after this.")
    error: dict[str, Any] | None = Field(
        description="Why the object that arrived was rejected (status `rejected`)."
    )

    @classmethod
    def of(cls, record: UploadRecord, state: UploadState) -> UploadOut:
        return cls(
            id=record.id,
            collection=record.collection,
            status=state,
            image_id=record.id if state is UploadState.CATALOGUED else None,
            filename=record.filename,
            features=record.features,
            expires_at=record.expires_at,
            error=record.error,
        )


class TicketOut(UploadOut):
    model_config = examples(shown.TICKET)

    url: str = Field(description="POST a multipart/form-data form here: `fields`, then `file`.")
    fields: dict[str, str] = Field(description="Form fields to send before the file, as given.")
    max_bytes: int = Field(description="The largest file the form accepts.")


# The notifications `inbox.parse_notification` reads, as far as it reads them: what it leaves
# unchecked (another record's fields, a SeaweedFS entry's) stays open here too, so the document
# refuses no notification the route takes.
S3_EVENT_RECORDS = {
    "title": "S3 event records",
    "type": "object",
    "required": ["Records"],
    "properties": {
        "Records": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["s3"],
                "properties": {
                    "eventName": {
                        "description": "`ObjectCreated:…` (or `s3:ObjectCreated:…`) records "
                        "are catalogued; the others are ignored."
                    },
                    "s3": {
                        "type": "object",
                        "description": "Of a created object: `bucket.name`, and `object.key` "
                        "URL-encoded (strings).",
                    },
                },
            },
        }
    },
}
SEAWEEDFS_NOTIFICATION = {
    "title": "SeaweedFS filer notification",
    "type": "object",
    "required": ["event_type", "key"],
    "properties": {
        "event_type": {"description": "`create` events are catalogued; the others are ignored."},
        "key": {"type": "string", "description": "The path: `/buckets/BUCKET/KEY`."},
        "message": {"description": "Its `new_entry.is_directory`: folders are ignored."},
    },
}


class OutcomeOut(BaseModel):
    bucket: str
    key: str
    status: str = Field(
        description="`catalogued`, `duplicate` (already catalogued), `rejected` (not an "
        "acceptable image), `expired` (its upload had expired and was settled; removed), "
        "`gone` (no longer in the inbox) or `ignored` (outside the inbox)."
    )
    image_id: str | None
    error: dict[str, Any] | None

    @classmethod
    def of(cls, outcome: Outcome) -> OutcomeOut:
        return cls(**vars(outcome))


class OutcomeList(BaseModel):
    model_config = examples(shown.OUTCOMES)

    records: list[OutcomeOut]


@router.post(
    "/v1/uploads",
    status_code=201,
    response_model=TicketOut,
    responses=documented(
        DirectUploadsUnavailable, InvalidFeature, InvalidMetadata, InsufficientStorage, BackendError
    ),
    summary="A presigned form upload straight into the object store (S3 blob stores only)",
)
def create_upload(
    uploads: Uploads,
    collection: WriteCollection,
    body: Annotated[UploadIn | None, Body()] = None,
) -> Any:
    """Reserves the image id (in the collection, as an upload's) and answers a URL and form
    fields valid for `SIGHTLINE_UPLOAD_URL_SECONDS`. Once the file lands, the store's
    notification to `POST /v1/storage/events` catalogues and analyses it like any upload; follow
    it with `GET /v1/uploads/{id}`, then `GET /v1/images/{id}`."""
    request = body or UploadIn()
    ticket = uploads.create(
        request.filename, request.features, request.metadata, collection=collection
    )
    return TicketOut(
        **UploadOut.of(ticket.upload, UploadState.WAITING).model_dump(),
        url=ticket.url,
        fields=ticket.fields,
        max_bytes=ticket.max_bytes,
    )


@router.get(
    "/v1/uploads/{upload_id}",
    response_model=UploadOut,
    responses=documented(UploadNotFound),
    summary="Whether a direct upload arrived: waiting, catalogued, rejected or expired",
)
def get_upload(upload_id: str, uploads: Uploads, collection: ReadCollection) -> Any:
    return UploadOut.of(*uploads.state(upload_id, collection=collection))


@router.post(
    "/v1/storage/events",
    response_model=OutcomeList,
    responses=documented(
        DirectUploadsUnavailable,
        InvalidStorageEvent,
        PayloadTooLarge,
        InsufficientStorage,
        BackendError,
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "description": "S3 event records or a SeaweedFS filer notification.",
                        "anyOf": [S3_EVENT_RECORDS, SEAWEEDFS_NOTIFICATION],
                        "examples": [shown.STORAGE_EVENT],
                    }
                }
            },
        }
    },
    summary="Object-created notifications from the blob store (S3 event records or SeaweedFS)",
    dependencies=[Depends(no_collection)],
)
async def storage_events(request: Request, uploads: Uploads) -> Any:
    """Point the bucket's notifications here (with an API key as bearer token when keys are
    configured; a key bound to a collection is refused, 403 `CollectionForbidden`). Objects
    under the inbox (`incoming/` below the blob URL's prefix) are catalogued and analysed, each
    into the collection its upload was reserved for (objects dropped in by other systems: the
    default one), then removed from the inbox; others are ignored. A failure of a backend
    answers 503, so the store delivers the notification again."""
    raw = await read_body(request, MAX_NOTIFICATION_BYTES, PayloadTooLarge)
    try:
        notification = json_input.loads(raw)
    except ValueError as exc:
        raise InvalidStorageEvent(f"The notification is not valid JSON: {exc}") from exc
    outcomes = await run_in_threadpool(uploads.receive, notification)
    return OutcomeList(records=[OutcomeOut.of(outcome) for outcome in outcomes])
