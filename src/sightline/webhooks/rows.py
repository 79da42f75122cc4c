"""Rows of the webhooks tables to records and back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from sightline.events import envelope
from sightline.storage.records import JSON
from sightline.webhooks.store import (
    AttemptRecord,
    DeliveryRecord,
    DeliveryStatus,
    SubscriptionRecord,
)

MAX_ERROR_LENGTH = 1024


def short_error(error: str | None) -> str | None:
    return error[:MAX_ERROR_LENGTH] if error else None


def attempt_row(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "subscription_id": attempt.subscription_id,
        "at": attempt.at,
        "attempt": attempt.attempt,
        "delivery_ids": attempt.delivery_ids,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": short_error(attempt.error),
        "outcome": attempt.outcome,
    }


def subscription_row(record: SubscriptionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "endpoint": record.endpoint,
        "event_types": record.event_types,
        "subject_begins_with": record.subject_begins_with,
        "subject_ends_with": record.subject_ends_with,
        "data_filters": record.data_filters,
        "max_events_per_batch": record.max_events_per_batch,
        "max_attempts": record.max_attempts,
        "event_ttl_minutes": record.event_ttl_minutes,
        "paused": record.paused,
        "secret": record.secret,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "collection": record.collection,
    }


def subscription_of(
    row: Row[Any], counts: dict[str, int], *, prefix: str = ""
) -> SubscriptionRecord:
    """A `subscriptions` row, or its columns in a wider row, named `{prefix}{column}`."""
    values = row._mapping
    return SubscriptionRecord(
        id=values[f"{prefix}id"],
        name=values[f"{prefix}name"],
        endpoint=values[f"{prefix}endpoint"],
        event_types=list(values[f"{prefix}event_types"]),
        subject_begins_with=values[f"{prefix}subject_begins_with"],
        subject_ends_with=values[f"{prefix}subject_ends_with"],
        data_filters=list(values[f"{prefix}data_filters"]),
        max_events_per_batch=values[f"{prefix}max_events_per_batch"],
        max_attempts=values[f"{prefix}max_attempts"],
        event_ttl_minutes=values[f"{prefix}event_ttl_minutes"],
        paused=values[f"{prefix}paused"],
        secret=values[f"{prefix}secret"],
        created_at=values[f"{prefix}created_at"],
        updated_at=values[f"{prefix}updated_at"],
        counts=counts,
        collection=values[f"{prefix}collection"],
    )


def delivery_of(row: Row[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        subscription_id=row.subscription_id,
        event_seq=row.event_seq,
        event_id=row.event_id,
        event_type=row.event_type,
        subject=row.subject,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        expires_at=row.expires_at,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        last_latency_ms=row.last_latency_ms,
        dead_letter_reason=row.dead_letter_reason,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def envelope_of(row: Row[Any]) -> JSON:
    """The envelope of an `events` row."""
    return envelope(
        row.id,
        row.type,
        row.subject,
        row.time,
        row.data,
        source=row.source,
        collection=row.collection,
    )


def message_of(row: Row[Any]) -> JSON:
    """The envelope of the event of a `_delivery_select` row."""
    return envelope(
        row.event_id,
        row.event_type,
        row.subject,
        row.event_time,
        row.event_data,
        source=row.event_source,
        collection=row.event_collection,
    )
