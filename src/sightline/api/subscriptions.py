"""`/v1/subscriptions`: events pushed to your HTTP endpoints (webhooks), with their delivery log
and dead letters.

A subscription made by a caller bound to a collection, or naming one (`collection`), gets only
that collection's events and is seen only by callers of that collection; one made by a caller
bound to none, naming none, gets every event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import RequestBody
from sightline.api.scope import ReadCollection
from sightline.errors import (
    DeliveryNotFound,
    InsufficientStorage,
    InvalidUrl,
    NotDeadLettered,
    SubscriptionNotFound,
    WebhookTargetForbidden,
    WebhookValidationFailed,
)
from sightline.events import EventType
from sightline.webhooks import service as limits
from sightline.webhooks.filters import MAX_FILTERS, MAX_VALUES
from sightline.webhooks.service import SubscriptionService
from sightline.webhooks.store import (
    AttemptRecord,
    DeliveryRecord,
    DeliveryStatus,
    SubscriptionRecord,
)

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"], route_class=StrictJSONRoute)


Subscriptions = Annotated[SubscriptionService, deps.part("subscriptions")]
MAX_PAGE = 200
# Checking an endpoint: its URL, its address, then the validation handshake.
ENDPOINT_ERRORS = (InvalidUrl, WebhookTargetForbidden, WebhookValidationFailed)


# -- shapes --------------------------------------------------------------------------------------


class DataFilter(RequestBody):
    key: str = Field(
        min_length=1,
        max_length=256,
        description="A dotted path in the CloudEvents envelope: `data.filename`, "
        "`data.metadata.album`, `type`, `subject`, `collection`…",
    )
    operator: Literal["in", "begins_with", "ends_with"]
    values: list[str | int | float | bool] = Field(
        min_length=1,
        max_length=MAX_VALUES,
        description="Any of these; strings compare case-insensitively.",
    )


class SubscriptionFields(RequestBody):
    name: str | None = Field(None, max_length=limits.MAX_NAME_LENGTH, description="A label.")
    event_types: list[str] | None = Field(
        None,
        max_length=len(EventType),
        description="CloudEvents types to deliver (`sightline.image.analyzed`…); all: empty.",
    )
    subject_begins_with: str | None = Field(
        None,
        max_length=limits.MAX_SUBJECT_FILTER_LENGTH,
        description="Only events whose subject begins with this (case-insensitive).",
    )
    subject_ends_with: str | None = Field(
        None,
        max_length=limits.MAX_SUBJECT_FILTER_LENGTH,
        description="Only events whose subject ends with this (case-insensitive).",
    )
    data_filters: list[DataFilter] | None = Field(
        None, max_length=MAX_FILTERS, description="Conditions on the envelope; all must hold."
    )
    max_events_per_batch: int | None = Field(
        None,
        ge=1,
        le=limits.MAX_BATCH,
        description="Over 1: requests carry a JSON array of up to this many events "
        "(`application/cloudevents-batch+json`).",
    )
    max_attempts: int | None = Field(
        None, ge=1, le=limits.MAX_ATTEMPTS, description="Attempts before dead-lettering."
    )
    event_ttl_minutes: float | None = Field(
        None,
        ge=limits.MIN_TTL_MINUTES,
        le=limits.MAX_TTL_MINUTES,
        description="An event not delivered this long after it happened is dead-lettered.",
    )
    paused: bool | None = Field(
        None, description="Paused: events are kept (their TTL runs) and sent once resumed."
    )
    secret: str | None = Field(
        None,
        min_length=limits.MIN_SECRET_LENGTH,
        max_length=limits.MAX_SECRET_LENGTH,
        description="The HMAC-SHA256 signing key; generated when not given.",
    )


class SubscriptionIn(SubscriptionFields):
    model_config = examples(shown.SUBSCRIPTION_IN)

    endpoint: str = Field(
        max_length=limits.MAX_ENDPOINT_LENGTH,
        description="The http(s) URL events are POSTed to; it must accept the CloudEvents "
        "webhook validation handshake.",
    )


class SubscriptionPatch(SubscriptionFields):
    model_config = examples(shown.SUBSCRIPTION_PATCH)

    endpoint: str | None = Field(
        None,
        max_length=limits.MAX_ENDPOINT_LENGTH,
        description="A new endpoint, validated like a new subscription's.",
    )
    rotate_secret: bool = Field(False, description="Make a new secret (answered once).")


class Counts(BaseModel):
    pending: int
    delivered: int = Field(description="Delivered deliveries kept (they are pruned).")
    dead_lettered: int


class SubscriptionOut(BaseModel):
    model_config = examples(shown.SUBSCRIPTION)

    id: str
    collection: str | None = Field(
        description="It gets only this collection's events; null: every event."
    )
    name: str | None
    endpoint: str
    event_types: list[str]
    subject_begins_with: str | None
    subject_ends_with: str | None
    data_filters: list[DataFilter]
    max_events_per_batch: int
    max_attempts: int
    event_ttl_minutes: float
    paused: bool
    counts: Counts
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: SubscriptionRecord) -> SubscriptionOut:
        return cls(
            id=record.id,
            collection=record.collection,
            name=record.name,
            endpoint=record.endpoint,
            event_types=record.event_types,
            subject_begins_with=record.subject_begins_with,
            subject_ends_with=record.subject_ends_with,
            data_filters=[DataFilter(**condition) for condition in record.data_filters],
            max_events_per_batch=record.max_events_per_batch,
            max_attempts=record.max_attempts,
            event_ttl_minutes=record.event_ttl_minutes,
            paused=record.paused,
            counts=Counts(
                pending=record.counts.get(DeliveryStatus.PENDING, 0),
                delivered=record.counts.get(DeliveryStatus.DELIVERED, 0),
                dead_lettered=record.counts.get(DeliveryStatus.DEAD_LETTERED, 0),
            ),
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class SubscriptionWithSecret(SubscriptionOut):
    model_config = examples(shown.SUBSCRIPTION_WITH_SECRET)

    secret: str = Field(description="Shown when made and when rotated, never again.")

    @classmethod
    def with_secret(cls, record: SubscriptionRecord) -> SubscriptionWithSecret:
        return cls(**SubscriptionOut.of(record).model_dump(), secret=record.secret)


class SubscriptionChanged(SubscriptionOut):
    """`PATCH`'s answer: with `secret` when it changed, without otherwise."""

    model_config = examples(shown.SUBSCRIPTION_PAUSED)

    secret: str | None = Field(
        None,
        description="Only when it changed (`rotate_secret` or a new `secret`): shown this once.",
    )


class SubscriptionList(BaseModel):
    model_config = examples(shown.SUBSCRIPTIONS)

    subscriptions: list[SubscriptionOut]


class DeliveryOut(BaseModel):
    model_config = examples(shown.DELIVERY, shown.REDELIVERING)

    id: str
    event_id: str
    event_type: str
    subject: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When pending: the next attempt.")
    expires_at: datetime = Field(description="Dead-lettered if not delivered by then.")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: float | None
    dead_letter_reason: str | None = Field(
        description="`rejected` (the endpoint answered 400, 403, 410, 413, 415 or 422), "
        "`max_attempts` or `ttl_expired`."
    )
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryOut:
        pending = record.status is DeliveryStatus.PENDING
        return cls(
            id=record.id,
            event_id=record.event_id,
            event_type=record.event_type,
            subject=record.subject,
            status=record.status,
            attempts=record.attempts,
            next_attempt_at=record.next_attempt_at if pending else None,
            expires_at=record.expires_at,
            last_attempt_at=record.last_attempt_at,
            last_status_code=record.last_status_code,
            last_error=record.last_error,
            last_latency_ms=record.last_latency_ms,
            dead_letter_reason=record.dead_letter_reason,
            created_at=record.created_at,
            delivered_at=record.delivered_at,
        )


class DeliveryList(BaseModel):
    model_config = examples(shown.DELIVERIES)

    deliveries: list[DeliveryOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    id: int
    at: datetime
    attempt: int = Field(description="The attempt's number (the highest, for a batch).")
    delivery_ids: list[str]
    status_code: int | None = Field(description="The endpoint's answer; null if none came.")
    latency_ms: float | None
    error: str | None
    outcome: str = Field(description="`delivered`, `retrying` or `dead_lettered`.")

    @classmethod
    def of(cls, record: AttemptRecord) -> AttemptOut:
        return cls(**{name: getattr(record, name) for name in cls.model_fields})


class AttemptList(BaseModel):
    model_config = examples(shown.ATTEMPTS)

    attempts: list[AttemptOut]
    next_cursor: str | None


class Requeued(BaseModel):
    model_config = examples(shown.REQUEUED)

    requeued: int


# -- routes --------------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionWithSecret,
    responses=documented(*ENDPOINT_ERRORS, InsufficientStorage),
    summary="Subscribe an endpoint to events (after it accepts the validation handshake)",
)
def create_subscription(
    body: SubscriptionIn, service: Subscriptions, response: Response, collection: ReadCollection
) -> Any:
    """Sends `OPTIONS` with `WebHook-Request-Origin` to the endpoint first; unless it answers
    2xx with `WebHook-Allowed-Origin` naming this origin or `*`, nothing is stored
    (`WebhookValidationFailed`). Non-public targets are refused (`WebhookTargetForbidden`).
    The answer is the only one that shows the secret (until it is rotated)."""
    fields = body.model_dump(exclude_none=True)
    fields["data_filters"] = [f.model_dump() for f in body.data_filters or []]
    record = service.create(collection=collection, **fields)
    response.headers["Location"] = f"/v1/subscriptions/{record.id}"
    return SubscriptionWithSecret.with_secret(record)


@router.get("", response_model=SubscriptionList)
def list_subscriptions(service: Subscriptions, collection: ReadCollection) -> Any:
    found = service.list_subscriptions(collection=collection)
    return SubscriptionList(subscriptions=[SubscriptionOut.of(record) for record in found])


@router.get(
    "/{subscription_id}", response_model=SubscriptionOut, responses=documented(SubscriptionNotFound)
)
def get_subscription(
    subscription_id: str, service: Subscriptions, collection: ReadCollection
) -> Any:
    return SubscriptionOut.of(service.get(subscription_id, collection=collection))


@router.patch(
    "/{subscription_id}",
    response_model=None,
    responses={
        200: {"model": SubscriptionChanged},
        **documented(SubscriptionNotFound, *ENDPOINT_ERRORS, InsufficientStorage),
    },
    summary="Change a subscription: filters, policy, pause or resume, endpoint, secret",
)
def update_subscription(
    subscription_id: str,
    body: SubscriptionPatch,
    service: Subscriptions,
    collection: ReadCollection,
) -> JSONResponse:
    """Fields left out (or null) stay; an empty string clears `name` and the subject filters,
    an empty list the event types and data filters. A new endpoint is validated like a new
    subscription's. The answer includes `secret` only when it changed."""
    changes = body.model_dump(exclude_none=True, exclude={"rotate_secret"})
    if body.data_filters is not None:
        changes["data_filters"] = [f.model_dump() for f in body.data_filters]
    record = service.update(
        subscription_id, collection=collection, rotate_secret=body.rotate_secret, **changes
    )
    shown = body.rotate_secret or body.secret is not None
    out = SubscriptionWithSecret.with_secret(record) if shown else SubscriptionOut.of(record)
    return JSONResponse(out.model_dump(mode="json"))


@router.delete(
    "/{subscription_id}",
    status_code=204,
    responses=documented(SubscriptionNotFound, InsufficientStorage),
)
def delete_subscription(
    subscription_id: str, service: Subscriptions, collection: ReadCollection
) -> Response:
    """Its pending deliveries, dead letters and log go with it."""
    service.delete(subscription_id, collection=collection)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=DeliveryList,
    responses=documented(SubscriptionNotFound),
    summary="Deliveries of a subscription, newest event first (dead letters: status=…)",
)
def list_deliveries(
    subscription_id: str,
    service: Subscriptions,
    collection: ReadCollection,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> Any:
    found, next_cursor = service.deliveries(
        subscription_id, collection=collection, status=status, cursor=cursor, limit=limit
    )
    return DeliveryList(
        deliveries=[DeliveryOut.of(record) for record in found], next_cursor=next_cursor
    )


@router.get(
    "/{subscription_id}/attempts",
    response_model=AttemptList,
    responses=documented(SubscriptionNotFound),
    summary="The delivery log: every HTTP request to the endpoint, newest first",
)
def list_attempts(
    subscription_id: str,
    service: Subscriptions,
    collection: ReadCollection,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> Any:
    found, next_cursor = service.attempts(
        subscription_id, collection=collection, cursor=cursor, limit=limit
    )
    return AttemptList(
        attempts=[AttemptOut.of(record) for record in found], next_cursor=next_cursor
    )


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    responses=documented(
        SubscriptionNotFound, DeliveryNotFound, NotDeadLettered, InsufficientStorage
    ),
    summary="Send a dead letter again (attempts start over; its TTL counts from now)",
)
def redeliver(
    subscription_id: str, delivery_id: str, service: Subscriptions, collection: ReadCollection
) -> Any:
    return DeliveryOut.of(service.redeliver(subscription_id, delivery_id, collection=collection))


@router.post(
    "/{subscription_id}/redeliver",
    status_code=202,
    response_model=Requeued,
    responses=documented(SubscriptionNotFound, InsufficientStorage),
    summary="Send every dead letter of the subscription again",
)
def redeliver_all(subscription_id: str, service: Subscriptions, collection: ReadCollection) -> Any:
    return Requeued(requeued=service.redeliver_all(subscription_id, collection=collection))
