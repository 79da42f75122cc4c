"""The catalog schema as SQLAlchemy Core tables; Alembic migrations create and evolve it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect

from sightline.collection import DEFAULT_COLLECTION, MAX_LENGTH

# A classifier's label, as long as a Custom Vision tag's name may be.
MAX_LABEL_LENGTH = 256


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


def collection_column(*, nullable: bool = False) -> Column[str]:
    """The collection a row belongs to (`sightline.collection`); rows stored before collections
    existed are in the default one."""
    if nullable:
        return Column("collection", String(MAX_LENGTH))
    return Column(
        "collection", String(MAX_LENGTH), nullable=False, server_default=DEFAULT_COLLECTION
    )


images = Table(
    "images",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("sha256", String(64), nullable=False),
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
    collection_column(),
    # Lists are newest first (by id, which sorts by upload time) within a filter: one index per
    # filter keeps them scans.
    Index("ix_images_status_id", "status", "id"),
    Index("ix_images_content_type_id", "content_type", "id"),
    Index("ix_images_collection_id", "collection", "id"),
    # An upload's first copy (same bytes, same collection, lowest id) is one index lookup; with
    # the bytes' index alone SQLite walked the collection's images in id order instead.
    Index("ix_images_sha256_collection_id", "sha256", "collection", "id"),
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

# Vectors of the features that produce one (`embedding`, `semantic`, user clip models), one row
# per image and feature, as float32 bytes. A search space is (feature, version): vectors of two
# model versions never meet. `seq` grows with every write, so indexes catch up incrementally.
image_vectors = Table(
    "image_vectors",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("image_id", String(40), ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
    Column("feature", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("dims", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    # The image's, copied: searches within a collection filter on it without a join.
    collection_column(),
    UniqueConstraint("image_id", "feature", name="uq_image_vectors_image_feature"),
    Index("ix_image_vectors_space_seq", "feature", "version", "seq"),
    Index("ix_image_vectors_collection_space", "collection", "feature", "version"),
    # Never reuse a seq (SQLite would hand a deleted newest row's rowid to the next insert, and
    # an index that caught up to it would miss the replacement).
    sqlite_autoincrement=True,
)

classifiers = Table(
    "classifiers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("description", String(1024), nullable=False, default=""),
    Column("published_version", Integer),
    # Run on every new upload, as one more default feature (`custom:NAME`).
    Column("run_on_upload", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Its examples and predictions are images of this collection; names are unique within it.
    collection_column(),
    UniqueConstraint("collection", "name", name="uq_classifiers_collection_name"),
)

classifier_examples = Table(
    "classifier_examples",
    metadata,
    Column(
        "classifier_id",
        String(40),
        ForeignKey("classifiers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("image_id", String(40), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Column("label", String(MAX_LABEL_LENGTH), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_classifier_examples_image_id", "image_id"),
)

# One trained iteration, immutable once finished: the examples it was trained on are copied in
# when training is requested, so later label edits never change what a version means.
classifier_versions = Table(
    "classifier_versions",
    metadata,
    Column(
        "classifier_id",
        String(40),
        ForeignKey("classifiers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("examples", JSON, nullable=False),
    Column("example_count", Integer, nullable=False),
    Column("embedding_version", String(32), nullable=False),
    Column("metrics", JSON),
    Column("head", LargeBinary),
    Column("error", JSON),
    Column("seconds", Float),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
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
    # When the job the event asked for finished (or at relay time, if it asked for none).
    Column("finished_at", UTCDateTime),
    # The envelope's `collection` attribute; none for events about the server itself.
    collection_column(nullable=True),
    # The envelope's `requestid` attribute: the API request that caused the event, if any.
    Column("request_id", String(128)),
    Index("ix_events_collection_seq", "collection", "seq"),
    Index(
        "ix_events_undispatched",
        "seq",
        sqlite_where=Column("dispatched_at").is_(None),
        postgresql_where=Column("dispatched_at").is_(None),
    ),
    Index(
        "ix_events_unfinished",
        "seq",
        sqlite_where=Column("finished_at").is_(None),
        postgresql_where=Column("finished_at").is_(None),
    ),
)

# Small named values the catalog keeps about itself, e.g. the epoch of the queue it feeds.
catalog_state = Table(
    "catalog_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

# Direct uploads: what to do with the object once it lands at `inbox_key`, for presigned
# uploads from `POST /v1/uploads`; `{inbox key}@{sha256}` for objects other systems drop in
# (their `expires_at` is their `created_at`: no form was handed out). The id is the image's to
# be; the image existing means the upload was catalogued. `settled_at`: when the inbox
# reconciler found it past its expiry and settled it, `expired` if its image was not there.
uploads = Table(
    "uploads",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("inbox_key", String(1024), nullable=False),
    Column("filename", String(255)),
    Column("features", JSON, nullable=False),
    Column("client_metadata", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("error", JSON),
    collection_column(),
    Column("settled_at", UTCDateTime),
    Index("ix_uploads_inbox_key", "inbox_key", unique=True),
    Index("ix_uploads_unsettled", "settled_at", "expires_at"),
)

# Event subscriptions (webhooks). `start_seq`: the last event already in the log when the
# subscription was created; it gets the later ones. `collection`: it gets only that collection's
# events (none: every event).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(255)),
    Column("endpoint", String(2048), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("subject_begins_with", String(1024)),
    Column("subject_ends_with", String(1024)),
    Column("data_filters", JSON, nullable=False),
    Column("max_events_per_batch", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("event_ttl_minutes", Float, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("secret", String(255), nullable=False),
    Column("start_seq", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    collection_column(nullable=True),
)

# One event on its way to one subscription. The event's envelope stays in `events` (the row
# goes with it when the log is pruned); `subject` is copied for the per-subject ordering check.
# `lease` names the sender holding it until `leased_until`.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "subscription_id",
        String(40),
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "event_seq",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("events.seq", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("subject", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("leased_until", UTCDateTime),
    Column("lease", String(32)),
    Column("last_attempt_at", UTCDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(1024)),
    Column("last_latency_ms", Float),
    Column("dead_letter_reason", String(32)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("subscription_id", "event_seq", name="uq_deliveries_subscription_event"),
    # Lists and counts by status; the ordering check (an earlier pending event of the subject).
    Index("ix_deliveries_subscription_status", "subscription_id", "status", "event_seq"),
    Index("ix_deliveries_subject", "subscription_id", "subject", "event_seq"),
    Index("ix_deliveries_event_seq", "event_seq"),
    # Senders look for due deliveries and expired ones: pending rows only.
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=Column("status") == "pending",
        postgresql_where=Column("status") == "pending",
    ),
    Index(
        "ix_deliveries_expiry",
        "expires_at",
        sqlite_where=Column("status") == "pending",
        postgresql_where=Column("status") == "pending",
    ),
    Index("ix_deliveries_delivered_at", "delivered_at"),
)

# The delivery log: every HTTP request made to a subscription's endpoint.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "subscription_id",
        String(40),
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("delivery_ids", JSON, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Float),
    Column("error", String(1024)),
    Column("outcome", String(16), nullable=False),
    Index("ix_delivery_attempts_subscription_id", "subscription_id", "id"),
)

# API keys made by `sightline keys create` or `POST /v1/keys`: only a SHA-256 of the secret is
# kept. Revoked keys stay listed (with `revoked_at`) and still count as keys: revoking the last
# one never opens the API.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("collection", String(64)),  # the one collection it may reach; none: every one
    Index("ix_api_keys_secret_hash", "secret_hash", unique=True),
)

# Signed-in browsers: a SHA-256 of each session cookie and the key it was signed in with (an
# `api_keys` id, or `env:…` for a key of SIGHTLINE_API_KEYS, so no foreign key).
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# The Custom Vision facade's tags (`facades.custom_vision.tags`): a classifier's labels under
# Custom Vision's ids, kept so that a tag with no image yet exists and names its label by id.
custom_vision_tags = Table(
    "custom_vision_tags",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "classifier_id",
        String(40),
        ForeignKey("classifiers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    collection_column(),
    Column("name", String(MAX_LABEL_LENGTH), nullable=False),
    Column("description", String(1024), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("classifier_id", "name", name="uq_custom_vision_tags_classifier_name"),
)

# Computer Vision 3.2's finished Read operations (`facades.azure_cv.reads`), kept for polling by
# any API replica until they expire.
read_operations = Table(
    "read_operations",
    metadata,
    Column("id", String(36), primary_key=True),
    collection_column(),
    Column("status", String(16), nullable=False),
    Column("result", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

# Made by the migrations by hand, outside `metadata`, for one database only: the full-text index
# (SQLite's FTS5 table and its shadow tables, or PostgreSQL's tsvector table and its indexes),
# and pgvector's copy of the vectors of `image_vectors` and `faces` (migrations 0006 and 0016)
# with their per-space HNSW indexes (`search.pgvector`).
TEXT_INDEX_TABLE = "image_text"
PGVECTOR_COLUMN = "embedding"
PGVECTOR_TABLES = ("image_vectors", "faces")


def hnsw_index_prefix(table: str) -> str:
    """The start of the names of a table's HNSW indexes: a table's never clash with another's."""
    return f"ix_{table}_hnsw_"


def is_hand_made(name: str | None, type_: str) -> bool:
    """Whether a schema object is one of those above, which schema comparisons (Alembic's
    `include_name`, whose names may be None) must skip."""
    if name is None:
        return False
    if type_ == "table":
        return name == TEXT_INDEX_TABLE or name.startswith(f"{TEXT_INDEX_TABLE}_")
    if type_ == "column":
        return name == PGVECTOR_COLUMN
    return type_ == "index" and any(
        name.startswith(hnsw_index_prefix(table)) for table in PGVECTOR_TABLES
    )


# People a collection's faces are known as (`sightline.faces`).
people = Table(
    "people",
    metadata,
    Column("id", String(40), primary_key=True),
    collection_column(),
    Column("name", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_people_collection_name", "collection", "name"),
)

# A face with its descriptor, from an image's `face_embedding` result: biometric data, deleted
# with its image, its person, on request, or by `sightline faces purge`. `seq` orders writes, so
# the in-process indexes catch up by it (as for `image_vectors`). `cluster_id`: the faces taken
# for one unknown person (none until the face is grouped); `person_id`: who the face is, said by
# a user (`enrolled`) or matched to an enrolled face.
faces = Table(
    "faces",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(40), nullable=False),
    Column("image_id", String(40), ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
    collection_column(),
    Column("feature", String(64), nullable=False),  # whose result the face is in
    Column("position", SmallInteger, nullable=False),  # in that result's `faces`
    Column("box", JSON, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("version", String(32), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("cluster_id", String(40)),
    Column("person_id", String(40), ForeignKey("people.id", ondelete="SET NULL")),
    Column("enrolled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("id", name="uq_faces_id"),
    UniqueConstraint("image_id", "feature", "position", name="uq_faces_image_position"),
    Index("ix_faces_version_seq", "version", "seq"),
    Index("ix_faces_collection_cluster", "collection", "cluster_id"),
    Index("ix_faces_person", "person_id"),
    # Faces waiting to be grouped, oldest first: a few rows, found without walking the others.
    Index(
        "ix_faces_ungrouped",
        "seq",
        sqlite_where=text("cluster_id IS NULL"),
        postgresql_where=text("cluster_id IS NULL"),
    ),
    sqlite_autoincrement=True,
)

# "Not the same": a face that must not join this cluster, or be matched to this person, again.
face_separations = Table(
    "face_separations",
    metadata,
    Column("face_id", String(40), ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True),
    Column("other_id", String(40), primary_key=True),  # a cluster's or a person's id
)

__all__ = [
    "api_keys",
    "blob_refs",
    "blobs",
    "catalog_state",
    "classifier_examples",
    "classifier_versions",
    "classifiers",
    "custom_vision_tags",
    "deliveries",
    "delivery_attempts",
    "events",
    "face_separations",
    "faces",
    "feature_results",
    "image_phashes",
    "image_vectors",
    "images",
    "is_hand_made",
    "metadata",
    "people",
    "phash_bands",
    "read_operations",
    "subscriptions",
    "uploads",
    "web_sessions",
]
