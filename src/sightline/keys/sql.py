"""API keys, web sessions and the link-signing secret on SQLAlchemy Core, in the catalog's
database (the contract is `KeyStore`'s)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.engine import Row

from sightline.keys.store import KeyRecord, Scope, SessionRecord
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.statements import upsert

SIGNING_SECRET = "url_signing_key"  # its `catalog_state` row

k = t.api_keys.c
s = t.web_sessions.c


def _key_of(row: Row[Any]) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        scope=Scope(row.scope),
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        collection=row.collection,
    )


class SQLKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- keys ----------------------------------------------------------------------------------

    def create(self, record: KeyRecord) -> None:
        with self.db.write() as conn:
            conn.execute(
                insert(t.api_keys).values(
                    id=record.id,
                    name=record.name,
                    scope=record.scope.value,
                    prefix=record.prefix,
                    secret_hash=record.secret_hash,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    last_used_at=record.last_used_at,
                    revoked_at=record.revoked_at,
                    collection=record.collection,
                )
            )

    def get(self, key_id: str) -> KeyRecord | None:
        with self.db.read() as conn:
            row = conn.execute(select(t.api_keys).where(k.id == key_id)).first()
        return None if row is None else _key_of(row)

    def find(self, secret_hash: str) -> KeyRecord | None:
        with self.db.read() as conn:
            row = conn.execute(select(t.api_keys).where(k.secret_hash == secret_hash)).first()
        return None if row is None else _key_of(row)

    def list_keys(self) -> list[KeyRecord]:
        with self.db.read() as conn:
            rows = conn.execute(select(t.api_keys).order_by(k.created_at, k.id)).all()
        return [_key_of(row) for row in rows]

    def any_keys(self) -> bool:
        with self.db.read() as conn:
            return bool(conn.scalar(select(exists().select_from(t.api_keys))))

    def touch(self, key_id: str, at: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(update(t.api_keys).where(k.id == key_id).values(last_used_at=at))

    def revoke(self, key_id: str, at: datetime) -> KeyRecord | None:
        with self.db.write() as conn:
            conn.execute(
                update(t.api_keys)
                .where(k.id == key_id, k.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            conn.execute(delete(t.web_sessions).where(s.key_id == key_id))
            row = conn.execute(select(t.api_keys).where(k.id == key_id)).first()
        return None if row is None else _key_of(row)

    # -- sessions ------------------------------------------------------------------------------

    def create_session(self, record: SessionRecord) -> None:
        with self.db.write() as conn:
            conn.execute(delete(t.web_sessions).where(s.expires_at <= record.created_at))
            conn.execute(
                insert(t.web_sessions).values(
                    token_hash=record.token_hash,
                    key_id=record.key_id,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                )
            )

    def session(self, token_hash: str) -> SessionRecord | None:
        with self.db.read() as conn:
            row = conn.execute(select(t.web_sessions).where(s.token_hash == token_hash)).first()
        if row is None:
            return None
        return SessionRecord(row.token_hash, row.key_id, row.created_at, row.expires_at)

    def end_session(self, token_hash: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(t.web_sessions).where(s.token_hash == token_hash))

    def end_sessions(self, key_id: str) -> int:
        with self.db.write() as conn:
            return conn.execute(delete(t.web_sessions).where(s.key_id == key_id)).rowcount

    # -- the link-signing secret ---------------------------------------------------------------

    def signing_secret(self, candidate: str) -> str:
        with self.db.write() as conn:
            upsert(conn, t.catalog_state, {"key": SIGNING_SECRET, "value": candidate}, keys=["key"])
            stored = conn.scalar(
                select(t.catalog_state.c.value).where(t.catalog_state.c.key == SIGNING_SECRET)
            )
        assert isinstance(stored, str)  # just written, or there already
        return stored
