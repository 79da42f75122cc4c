"""The catalog schema as SQLAlchemy Core tables; Alembic migrations create and evolve it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

images = Table(
    "images",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("filename", String(255)),
    Column("content_type", String(64), nullable=False),
    Column("format", String(16), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("client_metadata", JSON, nullable=False),
    Column("duplicate_of", String(40)),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Lists are newest first (by id) within a filter: one index per filter keeps them scans.
    Index("ix_images_status_id", "status", "id"),
    Index("ix_images_content_type_id", "content_type", "id"),
)

feature_results = Table(
    "feature_results",
    metadata,
    Column("image_id", String(40), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Column("feature", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("analyzer", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("result", JSON),
    Column("error", JSON),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per stored blob; ingest and delete lock it so a blob is never removed while a new
# reference to it is being written.
blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

blob_refs = Table(
    "blob_refs",
    metadata,
    Column("sha256", String(64), ForeignKey("blobs.sha256"), primary_key=True),
    Column("image_id", String(40), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(64), primary_key=True),
    Index("ix_blob_refs_image_id", "image_id"),
)

image_phashes = Table(
    "image_phashes",
    metadata,
    Column("image_id", String(40), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Column("phash", String(16), nullable=False),
)

# The 64-bit perceptual hash cut into 8 bands of 8 bits: two hashes within Hamming distance 7
# share at least one band exactly (pigeonhole), so near-duplicate lookup is an indexed equality
# search followed by an exact distance check, not a scan.
phash_bands = Table(
    "phash_bands",
    metadata,
    Column("band", SmallInteger, primary_key=True),
    Column("value", SmallInteger, primary_key=True),
    Column("image_id", String(40), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_phash_bands_image_id", "image_id"),
)

# The outbox and event log: written in the same transaction as the change it describes, relayed
# to the job queue (dispatched_at) and read by `GET /v1/events` in `seq` order.
events = Table(
    "events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(64), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("source", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("time", UTCDateTime, nullable=False, index=True),
    Column("data", JSON, nullable=False),
    Column("dispatched_at", UTCDateTime),
    Index(
        "ix_events_undispatched",
        "seq",
        sqlite_where=Column("dispatched_at").is_(None),
        postgresql_where=Column("dispatched_at").is_(None),
    ),
)

__all__ = [
    "blob_refs",
    "blobs",
    "events",
    "feature_results",
    "image_phashes",
    "images",
    "metadata",
    "phash_bands",
]
