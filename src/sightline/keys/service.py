"""Use cases of access control: make, list and revoke API keys; tell who a key or a browser
session is; sign in and out; the signer of image links.

Two kinds of keys:
- Keys from SIGHTLINE_API_KEYS are admin keys, known only to the processes given them.
- Stored keys (`sightline keys create`, `POST /v1/keys`) have a name, a scope, an optional
  expiry and a last use. The secret is 32 random bytes shown once; only its SHA-256 is kept.
  A slow password hash would add nothing here: it protects guessable secrets, and nobody
  guesses 256 random bits, while a plain hash lets a request find its key by one indexed read.

The API is open only while there are neither environment keys nor stored keys, revoked and
expired ones included: revoking the last key locks the API rather than opening it. While it is
open, a process reads whether a first key has appeared at most once every `OPEN_RECHECK`
instead of on every request: a first key made elsewhere (`sightline keys create`, another
replica) closes the API there within that time, one made by the process itself at once. What a
key may do is never cached: its revocation or expiry counts from the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sightline.collection import collection_name
from sightline.errors import InvalidParameter, KeyNotFound, Unauthorized
from sightline.ids import time_sorted_id
from sightline.keys.links import LinkSigner
from sightline.keys.store import KeyRecord, KeyStore, Scope, SessionRecord
from sightline.settings import Settings

SECRET_PREFIX = "sl_"
PREFIX_LENGTH = len(SECRET_PREFIX) + 8  # shown in listings, enough to tell keys apart
MAX_NAME_LENGTH = 255
# A use is written at most this often per key: a busy key costs one write a minute, not one
# per request.
TOUCH_EVERY = timedelta(minutes=1)
SESSION_LIFETIME = timedelta(days=30)
# Reading whether a key exists cost every request of an open API 0.3-0.4 CPU ms and the
# worker-thread hop that reads need (bench/ingest.py).
OPEN_RECHECK = timedelta(seconds=1)
ENVIRONMENT = "SIGHTLINE_API_KEYS"


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a stored key, or one of SIGHTLINE_API_KEYS (`env:…`)."""

    key_id: str
    name: str
    scope: Scope
    collection: str | None = None  # the one collection it reaches; None: every one


@dataclass(frozen=True)
class NewKey:
    record: KeyRecord
    secret: str  # shown once, never stored


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class KeyService:
    def __init__(
        self, settings: Settings, store: KeyStore, clock: Callable[[], datetime] = _now
    ) -> None:
        self.store = store
        self._clock = clock
        # An environment key's id: a hash of it, so it names the key without holding it.
        self._environment = {
            f"env:{secret_hash(key)[:16]}": key for key in sorted(settings.api_key_set())
        }
        self._configured_secret = settings.url_signing_key
        self._signer: LinkSigner | None = None
        self._signer_lock = threading.Lock()
        self._had_keys = bool(self._environment)
        self._open_until: datetime | None = None  # no key existed, read just before this

    # -- managing keys -------------------------------------------------------------------------

    def create(
        self,
        name: str,
        scope: Scope | str,
        expires_at: datetime | None = None,
        collection: str | None = None,
    ) -> NewKey:
        name = name.strip()
        if not 0 < len(name) <= MAX_NAME_LENGTH:
            raise InvalidParameter(f"A key's name is 1 to {MAX_NAME_LENGTH} characters.")
        try:
            scope = Scope(scope)
        except ValueError:
            choices = ", ".join(item.value for item in Scope)
            raise InvalidParameter(f"Unknown scope {scope!r}; one of {choices}.") from None
        now = self._clock()
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidParameter("A key's expiry needs a time zone.")
            if expires_at <= now:
                raise InvalidParameter("A key's expiry must be in the future.")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(
            id=time_sorted_id("key_"),
            name=name,
            scope=scope,
            prefix=secret[:PREFIX_LENGTH],
            secret_hash=secret_hash(secret),
            created_at=now,
            expires_at=expires_at,
            collection=None if collection is None else collection_name(collection),
        )
        self.store.create(record)
        self._had_keys = True
        return NewKey(record, secret)

    def list_keys(self) -> list[KeyRecord]:
        return self.store.list_keys()

    def get(self, key_id: str) -> KeyRecord:
        record = self.store.get(key_id)
        if record is None:
            raise KeyNotFound(f"No key {key_id!r}.")
        return record

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke the key at once, on every process, and end its browser sessions."""
        record = self.store.revoke(key_id, self._clock())
        if record is None:
            raise KeyNotFound(f"No key {key_id!r}.")
        return record

    def end_sessions(self, key_id: str) -> int:
        """Sign out every browser signed in with this key (a stored key's id, or the `env:…`
        id of an environment key); how many were."""
        if key_id not in self._environment:
            self.get(key_id)
        return self.store.end_sessions(key_id)

    # -- telling who a request comes from ------------------------------------------------------

    def auth_required(self) -> bool:
        # Keys are never deleted, so once true this stays true and needs no more reads.
        if self._had_keys or self.known_open():
            return self._had_keys
        now = self._clock()
        self._had_keys = self.store.any_keys()
        if not self._had_keys:
            self._open_until = now + OPEN_RECHECK
        return self._had_keys

    def known_open(self) -> bool:
        """Whether the API is open, known without reading the catalog (see the module's
        docstring): a caller may then skip the thread it needs for reads."""
        return (
            not self._had_keys
            and self._open_until is not None
            and (self._clock() < self._open_until)
        )

    def authenticate(self, secret: str) -> Principal:
        """The principal of this key, or `Unauthorized`."""
        matched: Principal | None = None
        # Compare with every environment key in constant time: timing tells nothing of them.
        for key_id, key in self._environment.items():
            if hmac.compare_digest(secret.encode(), key.encode()):
                matched = Principal(key_id, ENVIRONMENT, Scope.ADMIN)
        if matched is not None:
            return matched
        record = self.store.find(secret_hash(secret))
        if record is None:
            raise Unauthorized("That API key is not valid.")
        return self._use(record)

    def _use(self, record: KeyRecord) -> Principal:
        now = self._clock()
        if record.revoked_at is not None:
            raise Unauthorized(f"The API key {record.prefix}… was revoked.")
        if record.expires_at is not None and now >= record.expires_at:
            raise Unauthorized(f"The API key {record.prefix}… has expired.")
        if record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY:
            self.store.touch(record.id, now)
        return Principal(record.id, record.name, record.scope, record.collection)

    def _principal(self, key_id: str) -> Principal | None:
        if key_id in self._environment:
            return Principal(key_id, ENVIRONMENT, Scope.ADMIN)
        record = self.store.get(key_id)
        if record is None or not record.usable(self._clock()):
            return None
        return self._use(record)

    # -- browser sessions ----------------------------------------------------------------------

    def start_session(self, principal: Principal) -> str:
        """A new session of this principal; the cookie value, which is not stored."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        self.store.create_session(
            SessionRecord(secret_hash(token), principal.key_id, now, now + SESSION_LIFETIME)
        )
        return token

    def session_principal(self, token: str) -> Principal | None:
        """Who this session cookie is signed in as, or None: unknown, ended, run out, or its
        key removed, revoked or expired."""
        if not token:
            return None
        session = self.store.session(secret_hash(token))
        if session is None or self._clock() >= session.expires_at:
            return None
        return self._principal(session.key_id)

    def end_session(self, token: str) -> None:
        self.store.end_session(secret_hash(token))

    # -- signed links --------------------------------------------------------------------------

    def link_signer(self) -> LinkSigner:
        with self._signer_lock:
            if self._signer is None:
                secret = self._configured_secret or self.store.signing_secret(secrets.token_hex(32))
                self._signer = LinkSigner(secret)
            return self._signer
