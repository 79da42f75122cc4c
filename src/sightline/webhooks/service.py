"""Use cases of event subscriptions: create (after the endpoint agreed), read, change, delete,
and look at or redeliver what was sent. The API and the client call these.

A subscription made for a collection gets only that collection's events; one made for none gets
every event. Every use case takes `collection`, the caller's scope: a subscription made for
another collection (or for none) is not found, unless the scope is None (every subscription)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sightline.addresses import AddressPolicy, parse_http_url
from sightline.errors import (
    DeliveryNotFound,
    InvalidParameter,
    InvalidUrl,
    NotDeadLettered,
    SubscriptionNotFound,
    WebhookTargetForbidden,
    WebhookValidationFailed,
)
from sightline.settings import Settings
from sightline.storage.records import JSON
from sightline.webhooks.filters import check_event_types, check_filters
from sightline.webhooks.store import (
    AttemptRecord,
    DeliveryRecord,
    DeliveryStatus,
    SubscriptionRecord,
    SubscriptionStore,
)
from sightline.webhooks.transport import DeliveryError, TargetForbidden, WebhookClient

ID_PREFIX = "sub_"
MAX_ENDPOINT_LENGTH = 2048
MAX_NAME_LENGTH = 255
MAX_SUBJECT_FILTER_LENGTH = 1024
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 255
MAX_BATCH = 100
MAX_ATTEMPTS = 100
DEFAULT_MAX_ATTEMPTS = 30
DEFAULT_TTL_MINUTES = 1440.0
MAX_TTL_MINUTES = 7 * 1440.0
MIN_TTL_MINUTES = 1.0
MAX_CURSOR = 2**63 - 1
MAX_CURSOR_DIGITS = len(str(MAX_CURSOR))
REQUEST_ORIGIN = "WebHook-Request-Origin"
ALLOWED_ORIGIN = "WebHook-Allowed-Origin"


class SubscriptionService:
    def __init__(
        self,
        settings: Settings,
        store: SubscriptionStore,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.origin = settings.resolved_webhook_origin()
        self.policy = AddressPolicy(settings.webhook_networks())
        self.on_change = on_change  # wakes this process's sender

    # -- subscriptions -----------------------------------------------------------------------

    def create(
        self,
        endpoint: str,
        *,
        collection: str | None,
        name: str | None = None,
        event_types: Sequence[str] = (),
        subject_begins_with: str | None = None,
        subject_ends_with: str | None = None,
        data_filters: Sequence[JSON] = (),
        max_events_per_batch: int = 1,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        event_ttl_minutes: float = DEFAULT_TTL_MINUTES,
        paused: bool = False,
        secret: str | None = None,
    ) -> SubscriptionRecord:
        """Checks everything, then asks the endpoint whether it wants deliveries (the CloudEvents
        webhook handshake); nothing is stored unless it agrees."""
        fields: dict[str, Any] = {
            "name": name,
            "endpoint": endpoint,
            "event_types": event_types,
            "subject_begins_with": subject_begins_with,
            "subject_ends_with": subject_ends_with,
            "data_filters": data_filters,
            "max_events_per_batch": max_events_per_batch,
            "max_attempts": max_attempts,
            "event_ttl_minutes": event_ttl_minutes,
            "paused": paused,
            "secret": secret if secret is not None else new_secret(),
        }
        now = datetime.now(UTC)
        record = SubscriptionRecord(
            id=f"{ID_PREFIX}{secrets.token_hex(8)}",
            **{field: FIELD_CHECKS[field](value) for field, value in fields.items()},
            created_at=now,
            updated_at=now,
            collection=collection,
        )
        self.validate_endpoint(record.endpoint)
        return self.store.create(record)

    def get(self, subscription_id: str, *, collection: str | None) -> SubscriptionRecord:
        found = subscription_id.startswith(ID_PREFIX)
        record = self.store.get(subscription_id, collection) if found else None
        if record is None:
            raise SubscriptionNotFound(f"No subscription {subscription_id!r}.")
        return record

    def list_subscriptions(self, *, collection: str | None) -> list[SubscriptionRecord]:
        return self.store.list_subscriptions(collection)

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries kept, by status, over every subscription."""
        totals: dict[str, int] = {}
        for subscription in self.list_subscriptions(collection=None):
            for status, count in subscription.counts.items():
                totals[status] = totals.get(status, 0) + count
        return totals

    def update(
        self,
        subscription_id: str,
        *,
        collection: str | None,
        rotate_secret: bool = False,
        **changes: Any,
    ) -> SubscriptionRecord:
        """Change any field given (None: left as it is, except the optional filters and name,
        which an empty string clears). A new endpoint is validated first; `rotate_secret` makes
        a new secret. The collection a subscription was made for never changes."""
        current = self.get(subscription_id, collection=collection)
        unknown = set(changes) - set(FIELD_CHECKS)
        if unknown:
            raise InvalidParameter(f"Unknown fields: {', '.join(sorted(unknown))}.")
        checked = {
            field: FIELD_CHECKS[field](value)
            for field, value in changes.items()
            if value is not None
        }
        if rotate_secret:
            if "secret" in checked:
                raise InvalidParameter("Give a new secret or ask for one, not both.")
            checked["secret"] = new_secret()
        if checked.get("endpoint", current.endpoint) != current.endpoint:
            self.validate_endpoint(checked["endpoint"])
        updated = self.store.update(subscription_id, **checked) if checked else current
        if updated is None:
            raise SubscriptionNotFound(f"No subscription {subscription_id!r}.")
        self.on_change()
        return updated

    def delete(self, subscription_id: str, *, collection: str | None) -> None:
        self.get(subscription_id, collection=collection)
        if not self.store.delete(subscription_id):
            raise SubscriptionNotFound(f"No subscription {subscription_id!r}.")

    # -- what was sent -----------------------------------------------------------------------

    def deliveries(
        self,
        subscription_id: str,
        *,
        collection: str | None,
        status: DeliveryStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[DeliveryRecord], str | None]:
        """A page, newest event first, and the cursor of the next page (None at the end)."""
        self.get(subscription_id, collection=collection)
        found = self.store.deliveries(
            subscription_id, status=status, before_seq=_cursor(cursor), limit=limit + 1
        )
        more = len(found) > limit
        return found[:limit], str(found[limit - 1].event_seq) if more else None

    def attempts(
        self,
        subscription_id: str,
        *,
        collection: str | None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[AttemptRecord], str | None]:
        """A page of the delivery log, newest first, and the next page's cursor."""
        self.get(subscription_id, collection=collection)
        found = self.store.attempts(subscription_id, before_id=_cursor(cursor), limit=limit + 1)
        more = len(found) > limit
        return found[:limit], str(found[limit - 1].id) if more else None

    def redeliver(
        self, subscription_id: str, delivery_id: str, *, collection: str | None
    ) -> DeliveryRecord:
        """A dead letter, pending again: attempts start over, its TTL counts from now."""
        subscription = self.get(subscription_id, collection=collection)
        delivery = self.store.delivery(subscription_id, delivery_id)
        if delivery is None:
            raise DeliveryNotFound(f"No delivery {delivery_id!r} in {subscription_id}.")
        requeued = self.store.redeliver(
            subscription_id, [delivery_id], _expiry(subscription.event_ttl_minutes)
        )
        if not requeued:
            raise NotDeadLettered(
                f"Delivery {delivery_id} is {delivery.status}: only dead letters are redelivered.",
                status=str(delivery.status),
            )
        self.on_change()
        return requeued[0]

    def redeliver_all(self, subscription_id: str, *, collection: str | None) -> int:
        """Every dead letter of the subscription, pending again; returns how many."""
        subscription = self.get(subscription_id, collection=collection)
        requeued = self.store.redeliver(
            subscription_id, None, _expiry(subscription.event_ttl_minutes)
        )
        self.on_change()
        return len(requeued)

    # -- the handshake -----------------------------------------------------------------------

    def validate_endpoint(self, endpoint: str) -> None:
        """The CloudEvents webhook abuse protection: `OPTIONS` with `WebHook-Request-Origin`,
        answered with a 2xx and `WebHook-Allowed-Origin` naming us (or `*`)."""
        asyncio.run(self._validate(endpoint))

    async def _validate(self, endpoint: str) -> None:
        client = WebhookClient(self.policy, self.settings.webhook_timeout_seconds)
        try:
            answer = await client.request("OPTIONS", endpoint, [(REQUEST_ORIGIN, self.origin)])
        except TargetForbidden as exc:
            raise WebhookTargetForbidden(str(exc)) from exc
        except DeliveryError as exc:
            # The transport's words say what to do about it ("Can't find the server …").
            raise WebhookValidationFailed(str(exc), error=str(exc)) from exc
        finally:
            await client.aclose()
        allowed = answer.headers.get(ALLOWED_ORIGIN.lower())
        granted = allowed is not None and any(
            part.strip().casefold() in (self.origin.casefold(), "*") for part in allowed.split(",")
        )
        if 200 <= answer.status_code < 300 and granted:
            return
        consent = (
            f"no {ALLOWED_ORIGIN} header" if allowed is None else f"{ALLOWED_ORIGIN}: {allowed}"
        )
        raise WebhookValidationFailed(
            f"The endpoint did not agree to receive events: it answered HTTP "
            f"{answer.status_code} with {consent}. It must answer an OPTIONS request carrying "
            f"{REQUEST_ORIGIN}: {self.origin} with a 2xx status and {ALLOWED_ORIGIN}: "
            f"{self.origin} (or *).",
            status_code=answer.status_code,
            allowed_origin=allowed,
            body=answer.body[:500].decode("utf-8", "replace"),
        )


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _expiry(ttl_minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=ttl_minutes)


def _cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    # ASCII digits that fit the database's 64-bit integers (str.isdigit also takes "²" and
    # "١", and a larger number overflows the driver: a 500 rather than a 400).
    if not (
        cursor.isascii()
        and cursor.isdigit()
        and len(cursor) <= MAX_CURSOR_DIGITS
        and int(cursor) <= MAX_CURSOR
    ):
        raise InvalidParameter("The cursor is malformed.")
    return int(cursor)


def _endpoint(endpoint: str) -> str:
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise InvalidUrl(f"The endpoint is longer than {MAX_ENDPOINT_LENGTH} characters.")
    try:
        url = parse_http_url(endpoint)
    except ValueError as exc:
        raise InvalidUrl(str(exc)) from exc
    if url.userinfo:
        # The endpoint is listed to anyone with API access and logged: no place for a
        # password. Receivers authenticate requests by their signature.
        raise InvalidUrl("The endpoint must not carry credentials (user:password@).")
    return str(url)


def _name(name: str | None) -> str | None:
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    return name or None


def _subject_filter(value: str | None, field: str) -> str | None:
    if value is not None and len(value) > MAX_SUBJECT_FILTER_LENGTH:
        raise InvalidParameter(f"{field} is longer than {MAX_SUBJECT_FILTER_LENGTH} characters.")
    return value or None


def _batch(value: int) -> int:
    if not 1 <= value <= MAX_BATCH:
        raise InvalidParameter(f"max_events_per_batch must be within 1..{MAX_BATCH}.")
    return int(value)


def _attempts(value: int) -> int:
    if not 1 <= value <= MAX_ATTEMPTS:
        raise InvalidParameter(f"max_attempts must be within 1..{MAX_ATTEMPTS}.")
    return int(value)


def _ttl(value: float) -> float:
    # A minute at least: shorter, an event would expire before a first retry could be made.
    if not MIN_TTL_MINUTES <= value <= MAX_TTL_MINUTES:
        raise InvalidParameter(
            f"event_ttl_minutes must be within {MIN_TTL_MINUTES:g}..{MAX_TTL_MINUTES:g}."
        )
    return float(value)


def _secret(secret: str) -> str:
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise InvalidParameter(
            f"A secret has {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters."
        )
    return secret


# The check (and normal form) of every field a subscription's owner sets, on create and update.
FIELD_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "endpoint": _endpoint,
    "event_types": check_event_types,
    "subject_begins_with": lambda value: _subject_filter(value, "subject_begins_with"),
    "subject_ends_with": lambda value: _subject_filter(value, "subject_ends_with"),
    "data_filters": check_filters,
    "max_events_per_batch": _batch,
    "max_attempts": _attempts,
    "event_ttl_minutes": _ttl,
    "paused": bool,
    "secret": _secret,
}
