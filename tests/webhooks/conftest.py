"""Webhook tests: a catalog of each kind (SQLite, PostgreSQL), events written into it, the
subscription service and delivery engines running against it, and real receivers on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sightline.events import EventType, cloud_event
from sightline.settings import Settings
from sightline.stores import Stores, open_stores
from sightline.webhooks import Dispatcher, SubscriptionService
from sightline.webhooks.store import (
    Attempted,
    AttemptRecord,
    Claim,
    DeliveryRecord,
    DeliveryStatus,
    DeliveryUpdate,
    SubscriptionRecord,
)
from webhooks.receiver import Receiver

ORIGIN = "tests.sightline.example"
# Loopback allowed (the receivers live there), tiny retry delays, quick polls.
WEBHOOK_SETTINGS: dict[str, Any] = {
    "poll_interval_seconds": 0.02,
    "webhook_allowed_networks": "127.0.0.0/8,::1/128",
    "webhook_origin": ORIGIN,
    "webhook_retry_delays": "0.02",
    "webhook_timeout_seconds": 5,
}


def answered_200(claim: Claim, now: datetime, *, claim_next: bool = False) -> Attempted:
    """What a sender hands the recorder after the claim's request was answered 200 at `now`."""
    ids = [delivery.id for delivery in claim.deliveries]
    return Attempted(
        claim,
        AttemptRecord(claim.subscription.id, now, 1, ids, 200, 1.0, None, "delivered"),
        [DeliveryUpdate(id_, DeliveryStatus.DELIVERED, now) for id_ in ids],
        claim_next=claim_next,
    )


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class Harness:
    """One catalog database and what webhooks need around it."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self.catalog = open_stores(url)
        self.service = SubscriptionService(self.settings(), self.catalog.subscriptions)
        self._opened: list[Stores] = [self.catalog]
        self._dispatchers: list[Dispatcher] = []
        self._images = 0

    def settings(self, **overrides: Any) -> Settings:
        values = {**WEBHOOK_SETTINGS, **overrides}
        return Settings(data_dir=self.data_dir, catalog_url=self.url, **values)

    def start(self, *, own_catalog: bool = False, **overrides: Any) -> Dispatcher:
        """A running delivery engine; with `own_catalog`, on a connection pool of its own, as
        another process would be."""
        catalog = self.catalog
        if own_catalog:
            catalog = open_stores(self.url)
            self._opened.append(catalog)
        dispatcher = Dispatcher(self.settings(**overrides), catalog.subscriptions)
        dispatcher.start()
        self._dispatchers.append(dispatcher)
        return dispatcher

    def subscribe(self, receiver: Receiver, **fields: Any) -> SubscriptionRecord:
        """A subscription for every collection, unless `collection` names one."""
        return self.service.create(receiver.url, **{"collection": None, **fields})

    def emit(
        self,
        image_id: str | None = None,
        event_type: EventType = EventType.IMAGE_CREATED,
        **data: Any,
    ) -> dict[str, Any]:
        """Write an event about an image into the log, as the catalog's writers do."""
        if image_id is None:
            self._images += 1
            image_id = f"img_{self._images:04d}"
        event = cloud_event(event_type, image_id, {"id": image_id, **data})
        self.catalog.events.record_events([event])
        return event

    def deliveries(self, subscription: SubscriptionRecord, **filters: Any) -> list[DeliveryRecord]:
        return self.catalog.subscriptions.deliveries(subscription.id, limit=1000, **filters)

    def counts(self, subscription: SubscriptionRecord) -> dict[str, int]:
        found = self.catalog.subscriptions.get(subscription.id)
        assert found is not None
        return found.counts

    def settled(self, subscription: SubscriptionRecord, count: int) -> Callable[[], bool]:
        """True once `count` deliveries exist and none is pending."""

        def check() -> bool:
            counts = self.counts(subscription)
            return counts["pending"] == 0 and sum(counts.values()) >= count

        return check

    def close(self) -> None:
        for dispatcher in self._dispatchers:
            dispatcher.stop(timeout=30)
        for catalog in self._opened:
            catalog.close()


@pytest.fixture
def harness(catalog_url: str, tmp_path: Path) -> Iterator[Harness]:
    found = Harness(catalog_url, tmp_path / "data")
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running
