"""What the keys domain keeps: stored API keys, the web app's sessions and the secret that
signs image links, behind the `KeyStore` the key service uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Scope(StrEnum):
    """What a key may do; each scope includes the ones before it."""

    READ = "read"  # GET and HEAD
    WRITE = "write"  # every other method
    ADMIN = "admin"  # keys, subscriptions (they hold webhook secrets), publishing classifiers

    def allows(self, needed: Scope) -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class KeyRecord:
    """A stored key. Its secret is not kept, only `secret_hash` (SHA-256, hex) to find it by
    and `prefix` (its first characters) for people to recognise it by."""

    id: str
    name: str
    scope: Scope
    prefix: str
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    collection: str | None = None  # the one collection the key reaches; None: every one

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser: a SHA-256 of its cookie and the key it signed in with."""

    token_hash: str
    key_id: str
    created_at: datetime
    expires_at: datetime


class KeyStore(Protocol):
    """Keys are never deleted, only revoked, so `any_keys` never turns false again. Sessions
    are rows: ending one deletes it, so a copied cookie stops working too."""

    def create(self, record: KeyRecord) -> None: ...

    def get(self, key_id: str) -> KeyRecord | None: ...

    def find(self, secret_hash: str) -> KeyRecord | None:
        """The key whose secret hashes to this, revoked or not."""

    def list_keys(self) -> list[KeyRecord]:
        """Oldest first."""

    def any_keys(self) -> bool:
        """Whether a key was ever stored."""

    def touch(self, key_id: str, at: datetime) -> None:
        """Record a use (`last_used_at`)."""

    def revoke(self, key_id: str, at: datetime) -> KeyRecord | None:
        """Mark it revoked (unless it already is) and end its sessions; None if unknown."""

    def create_session(self, record: SessionRecord) -> None:
        """Store it, deleting sessions that ran out before its creation."""

    def session(self, token_hash: str) -> SessionRecord | None: ...

    def end_session(self, token_hash: str) -> None: ...

    def end_sessions(self, key_id: str) -> int:
        """End every session of this key; how many there were."""

    def signing_secret(self, candidate: str) -> str:
        """The stored secret for signing links: `candidate`, stored now, if there was none
        (several processes racing agree on the first one stored)."""
