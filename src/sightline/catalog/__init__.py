"""The catalog: images, per-feature results and the event outbox, behind one interface."""

from __future__ import annotations

from typing import Protocol

from sightline.backends import load_backend
from sightline.catalog.base import (
    Attempted,
    AttemptRecord,
    BlobKeeper,
    BlobRef,
    Catalog,
    Claim,
    ClassifierStore,
    DeliveryRecord,
    DeliveryStatus,
    DeliveryUpdate,
    EventLog,
    FeatureState,
    FeatureStatus,
    ImageQuery,
    ImageRecord,
    ImageStatus,
    NewImage,
    StoredEvent,
    SubscriptionRecord,
    SubscriptionStore,
    UploadRecord,
    UploadStore,
)
from sightline.indexing import Indexer, no_index_entries

# `postgresql+psycopg://` is looked up as `postgresql`; both go through psycopg 3 (`database.py`).
BACKENDS = {
    "sqlite": "sightline.catalog.sql:SQLCatalog",
    "postgresql": "sightline.catalog.sql:SQLCatalog",
}


class CatalogBackend(Catalog, EventLog, Protocol):
    """What the application needs from a catalog backend: both interfaces, one store, and the
    custom classifiers, direct uploads and event subscriptions kept in the same database."""

    classifiers: ClassifierStore
    uploads: UploadStore
    subscriptions: SubscriptionStore

    def close(self) -> None: ...


def open_catalog(url: str, indexer: Indexer = no_index_entries) -> CatalogBackend:
    """The catalog at `url`, indexing what `indexer` reads from each result (by default,
    nothing but file names)."""
    catalog: CatalogBackend = load_backend("catalog", url, BACKENDS, indexer=indexer)
    return catalog


__all__ = [
    "Attempted",
    "AttemptRecord",
    "BlobKeeper",
    "BlobRef",
    "Catalog",
    "CatalogBackend",
    "Claim",
    "ClassifierStore",
    "DeliveryRecord",
    "DeliveryStatus",
    "DeliveryUpdate",
    "EventLog",
    "FeatureState",
    "FeatureStatus",
    "ImageQuery",
    "ImageRecord",
    "ImageStatus",
    "NewImage",
    "StoredEvent",
    "SubscriptionRecord",
    "SubscriptionStore",
    "UploadRecord",
    "UploadStore",
    "open_catalog",
]
