"""What the webhooks domain keeps: subscriptions, their deliveries and attempts, behind the
`SubscriptionStore` the subscription service uses and the `DeliveryEngineStore` the
dispatcher uses (one SQL class implements both)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sightline.storage.records import JSON


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class SubscriptionRecord:
    """Where to push which events: the filters, the delivery policy and the signing secret."""

    id: str
    name: str | None
    endpoint: str
    event_types: list[str]  # empty: every type
    subject_begins_with: str | None
    subject_ends_with: str | None
    data_filters: list[JSON]  # {"key", "operator", "values"}, all must match
    max_events_per_batch: int
    max_attempts: int
    event_ttl_minutes: float
    paused: bool
    secret: str
    created_at: datetime
    updated_at: datetime
    counts: dict[str, int] = field(default_factory=dict)  # deliveries kept, per status
    collection: str | None = None  # only this collection's events; None: every event


@dataclass(frozen=True)
class DeliveryRecord:
    """One event on its way to one subscription."""

    id: str
    subscription_id: str
    event_seq: int
    event_id: str
    event_type: str
    subject: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    expires_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: float | None
    dead_letter_reason: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class Claim:
    """Deliveries of one subscription leased to one sender, with their events, in seq order."""

    subscription: SubscriptionRecord
    lease: str
    deliveries: list[DeliveryRecord]
    envelopes: list[JSON]


@dataclass(frozen=True)
class AttemptRecord:
    """One HTTP request to a subscription's endpoint (one batch), as the delivery log shows it."""

    subscription_id: str
    at: datetime
    attempt: int
    delivery_ids: list[str]
    status_code: int | None
    latency_ms: float | None
    error: str | None
    outcome: str
    id: int = 0  # given by the store


@dataclass(frozen=True)
class DeliveryUpdate:
    """What one attempt made of one claimed delivery."""

    delivery_id: str
    status: DeliveryStatus
    next_attempt_at: datetime  # pending: when to try again
    dead_letter_reason: str | None = None


@dataclass(frozen=True)
class Attempted:
    """One attempt at a claim, what it made of each delivery, and whether the sender wants the
    subscription's next due batch."""

    claim: Claim
    attempt: AttemptRecord
    updates: Sequence[DeliveryUpdate]
    claim_next: bool = False


class SubscriptionStore(Protocol):
    """Subscriptions, their deliveries (one per subscription and matching event) and the log of
    HTTP attempts, as the subscription service reads and changes them. Deleting a subscription
    removes its deliveries and log; deliveries go with their event when the event log is
    pruned. Reads take `collection`: only the subscriptions made for that collection are found
    (None: every subscription)."""

    def create(self, record: SubscriptionRecord) -> SubscriptionRecord:
        """Store it; it gets the events written after this call, none of those before."""

    def get(
        self, subscription_id: str, collection: str | None = None
    ) -> SubscriptionRecord | None: ...

    def list_subscriptions(self, collection: str | None = None) -> list[SubscriptionRecord]:
        """Oldest first."""

    def update(self, subscription_id: str, **changes: Any) -> SubscriptionRecord | None:
        """Change any of the record's fields but the id, the counts and `created_at`."""

    def delete(self, subscription_id: str) -> bool: ...

    def delivery(self, subscription_id: str, delivery_id: str) -> DeliveryRecord | None: ...

    def deliveries(
        self,
        subscription_id: str,
        *,
        status: DeliveryStatus | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[DeliveryRecord]:
        """Newest event first; `before_seq` continues after the last one of a page."""

    def attempts(
        self, subscription_id: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[AttemptRecord]:
        """Newest first; `before_id` continues after the last one of a page."""

    def redeliver(
        self, subscription_id: str, delivery_ids: Sequence[str] | None, expires_at: datetime
    ) -> list[DeliveryRecord]:
        """Make these dead letters (all of them with None) pending again, as if new, living
        until `expires_at`; returns those requeued (those that were dead-lettered), as they are
        at that moment: a dispatcher may send them the next instant."""


class DeliveryEngineStore(Protocol):
    """What the dispatcher needs: fan-out follows the event log by seq with a watermark, in the
    transaction that inserts the deliveries, so that several processes fanning out never skip
    or double an event; senders claim due deliveries with a lease that runs out if they die."""

    def fan_out(self, matches: Callable[[SubscriptionRecord, JSON], bool], limit: int) -> int:
        """Match up to `limit` events past the watermark against every subscription, insert a
        pending delivery per match and advance the watermark; returns how many events."""

    def claim(
        self, now: datetime, lease_until: datetime, *, exclude: Collection[str], most: int
    ) -> list[Claim]:
        """Lease due deliveries of up to `most` subscriptions not paused and not in `exclude`,
        each up to its batch size. A delivery is due when pending, unleased (or its lease ran
        out), at or past its next attempt and not expired, and no earlier event of its subject
        is still pending in its subscription."""

    def record(
        self, attempts: Sequence[Attempted], *, next_lease: timedelta | None = None
    ) -> list[Claim | None]:
        """Log the attempts and apply their outcomes to the deliveries still under their
        claims' leases, all in one transaction. A delivery waiting to retry holds back the later
        ones of its subject. With `next_lease`, each attempt that asks for it also gets its
        subscription's next due batch, leased for that long (None when nothing is due or the
        subscription is paused), in the order given. Attempts of subscriptions deleted since
        their claim are dropped (nothing logged, None as their next batch)."""

    def expire(self, now: datetime) -> int:
        """Dead-letter (`ttl_expired`) the unleased pending deliveries past their TTL."""

    def prune(self, older_than: datetime) -> int:
        """Delete attempts, and delivered deliveries, older than the cut-off."""
