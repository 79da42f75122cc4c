"""What every domain shares about the database: the engine, the tables, the one migration
chain, the outbox and the records read across domains."""

from sightline.storage.database import Database
from sightline.storage.outbox import EventLog, SQLEventLog
from sightline.storage.records import (
    JSON,
    TERMINAL_FEATURE_STATES,
    BlobKeeper,
    BlobRef,
    FeatureState,
    FeatureStatus,
    ImageRecord,
    ImageStatus,
    NewImage,
    StoredEvent,
    Vector,
    image_status,
)

__all__ = [
    "JSON",
    "TERMINAL_FEATURE_STATES",
    "BlobKeeper",
    "BlobRef",
    "Database",
    "EventLog",
    "FeatureState",
    "FeatureStatus",
    "ImageRecord",
    "ImageStatus",
    "NewImage",
    "SQLEventLog",
    "StoredEvent",
    "Vector",
    "image_status",
]
