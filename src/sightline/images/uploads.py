"""Direct uploads awaiting their object, on SQLAlchemy Core in the catalog's database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select, tuple_, update

from sightline.collection import DEFAULT_COLLECTION
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.records import JSON
from sightline.storage.statements import upsert


@dataclass(frozen=True)
class UploadRecord:
    """A presigned upload handed out: its id is the image's to be, in `collection`."""

    id: str
    inbox_key: str
    filename: str | None
    features: list[str]
    client_metadata: JSON
    created_at: datetime
    expires_at: datetime
    error: JSON | None = None
    collection: str = DEFAULT_COLLECTION
    settled_at: datetime | None = None

    @property
    def presigned(self) -> bool:
        """Handed out by `POST /v1/uploads` with a form, not reserved for a dropped object."""
        return self.expires_at > self.created_at


class UploadStore(Protocol):
    def create(self, record: UploadRecord) -> None: ...

    def get(self, upload_id: str, collection: str | None = None) -> UploadRecord | None:
        """The upload, if it is one of `collection`'s (None: of any collection)."""

    def get_by_key(self, inbox_key: str) -> UploadRecord | None: ...

    def reserve(self, record: UploadRecord) -> UploadRecord:
        """Store the record unless one with its inbox key exists; return the one stored."""

    def reject(self, upload_id: str, error: JSON) -> None:
        """The object that arrived is not an acceptable image: say why, for the uploader."""

    def unsettled(
        self, expired_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[UploadRecord]:
        """Up to `limit` unsettled uploads that expired before `expired_before`, by expiry and
        id, after the (expiry, id) `after` (None: from the first)."""

    def settle(self, upload_id: str, at: datetime) -> None:
        """Record that the upload was settled at `at`; a settled one keeps its first time."""


class SQLUploadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, record: UploadRecord) -> None:
        with self.db.write() as conn:
            conn.execute(insert(t.uploads).values(**_row(record)))

    def reserve(self, record: UploadRecord) -> UploadRecord:
        with self.db.write() as conn:
            upsert(conn, t.uploads, _row(record), keys=["inbox_key"])
        found = self.get_by_key(record.inbox_key)
        assert found is not None  # just stored, and never deleted
        return found

    def get(self, upload_id: str, collection: str | None = None) -> UploadRecord | None:
        conditions = [t.uploads.c.id == upload_id]
        if collection is not None:
            conditions.append(t.uploads.c.collection == collection)
        return self._find(*conditions)

    def get_by_key(self, inbox_key: str) -> UploadRecord | None:
        return self._find(t.uploads.c.inbox_key == inbox_key)

    def _find(self, *conditions: Any) -> UploadRecord | None:
        with self.db.read() as conn:
            row = conn.execute(select(t.uploads).where(*conditions)).first()
        return None if row is None else _record(row)

    def reject(self, upload_id: str, error: JSON) -> None:
        with self.db.write() as conn:
            conn.execute(update(t.uploads).where(t.uploads.c.id == upload_id).values(error=error))

    def unsettled(
        self, expired_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[UploadRecord]:
        uploads = t.uploads.c
        query = select(t.uploads).where(
            uploads.settled_at.is_(None), uploads.expires_at < expired_before
        )
        if after is not None:
            query = query.where(tuple_(uploads.expires_at, uploads.id) > after)
        query = query.order_by(uploads.expires_at, uploads.id).limit(limit)
        with self.db.read() as conn:
            return [_record(row) for row in conn.execute(query)]

    def settle(self, upload_id: str, at: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(t.uploads)
                .where(t.uploads.c.id == upload_id, t.uploads.c.settled_at.is_(None))
                .values(settled_at=at)
            )


def _record(row: Any) -> UploadRecord:
    return UploadRecord(
        id=row.id,
        inbox_key=row.inbox_key,
        filename=row.filename,
        features=list(row.features),
        client_metadata=row.client_metadata,
        created_at=row.created_at,
        expires_at=row.expires_at,
        error=row.error,
        collection=row.collection,
        settled_at=row.settled_at,
    )


def _row(record: UploadRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "inbox_key": record.inbox_key,
        "filename": record.filename,
        "features": record.features,
        "client_metadata": record.client_metadata,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "error": record.error,
        "collection": record.collection,
        "settled_at": record.settled_at,
    }
