"""The catalog: images, per-feature results and the event outbox, behind one interface."""

from __future__ import annotations

from typing import Protocol

from sightline.backends import load_backend
from sightline.catalog.base import (
    BlobKeeper,
    BlobRef,
    Catalog,
    ClassifierStore,
    EventLog,
    FeatureState,
    FeatureStatus,
    ImageQuery,
    ImageRecord,
    ImageStatus,
    NewImage,
    StoredEvent,
    UploadRecord,
    UploadStore,
)

# `postgresql+psycopg://` is looked up as `postgresql`; both go through psycopg 3 (`database.py`).
BACKENDS = {
    "sqlite": "sightline.catalog.sql:SQLCatalog",
    "postgresql": "sightline.catalog.sql:SQLCatalog",
}


class CatalogBackend(Catalog, EventLog, Protocol):
    """What the application needs from a catalog backend: both interfaces, one store, and the
    custom classifiers and direct uploads kept in the same database."""

    classifiers: ClassifierStore
    uploads: UploadStore

    def close(self) -> None: ...


def open_catalog(url: str) -> CatalogBackend:
    catalog: CatalogBackend = load_backend("catalog", url, BACKENDS)
    return catalog


__all__ = [
    "BlobKeeper",
    "BlobRef",
    "Catalog",
    "CatalogBackend",
    "ClassifierStore",
    "EventLog",
    "FeatureState",
    "FeatureStatus",
    "ImageQuery",
    "ImageRecord",
    "ImageStatus",
    "NewImage",
    "StoredEvent",
    "UploadRecord",
    "UploadStore",
    "open_catalog",
]
