"""Stored API keys, browser sessions and the link-signing secret, on SQLite and PostgreSQL:
keys are kept hashed, revoked and expired keys are refused, a use is written at most once a
minute, sessions end on the server, processes on one catalog share one signing secret, and an
open API notices a first key made elsewhere within `OPEN_RECHECK`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sightline.errors import InvalidParameter, KeyNotFound, Unauthorized
from sightline.keys import KeyService, Scope
from sightline.keys.service import OPEN_RECHECK, SESSION_LIFETIME, TOUCH_EVERY, secret_hash
from sightline.settings import Settings
from sightline.storage import tables as t
from sightline.stores import Stores

START = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def service(catalog: Stores, clock: Clock | None = None, **settings: object) -> KeyService:
    configured = Settings(data_dir=Path("unused"), **settings)  # type: ignore[arg-type]
    return KeyService(configured, catalog.keys, clock or Clock())


def test_a_key_is_kept_hashed_and_found_by_its_secret(catalog: Stores, clock: Clock) -> None:
    keys = service(catalog, clock)
    assert not keys.auth_required()
    made = keys.create("ci uploader", Scope.WRITE)
    assert made.secret.startswith("sl_") and len(made.secret) == 46
    assert made.record.prefix == made.secret[:11]
    with catalog.db.read() as conn:
        stored = conn.execute(select(t.api_keys)).one()
    assert made.secret not in [str(value) for value in stored]
    assert stored.secret_hash == secret_hash(made.secret)
    principal = keys.authenticate(made.secret)
    assert (principal.key_id, principal.name, principal.scope) == (
        made.record.id,
        "ci uploader",
        Scope.WRITE,
    )
    with pytest.raises(Unauthorized):
        keys.authenticate(made.secret + "x")
    # Another process on the same catalog knows the key at once, and that auth is required.
    other = service(catalog, clock)
    assert other.auth_required()
    assert other.authenticate(made.secret).key_id == made.record.id


def test_an_open_api_sees_a_first_key_made_elsewhere_within_the_recheck(
    catalog: Stores, clock: Clock
) -> None:
    keys = service(catalog, clock)
    assert not keys.auth_required() and keys.known_open()
    service(catalog, clock).create("made by another process", "read")
    clock.now = START + OPEN_RECHECK - timedelta(milliseconds=1)
    assert not keys.auth_required()  # known open a moment ago: not read again yet
    clock.now = START + OPEN_RECHECK
    assert not keys.known_open() and keys.auth_required()
    clock.now = START  # once closed, it stays closed: keys are never deleted
    assert keys.auth_required() and not keys.known_open()


def test_a_first_key_made_by_the_process_closes_its_api_at_once(
    catalog: Stores, clock: Clock
) -> None:
    keys = service(catalog, clock)
    assert not keys.auth_required() and keys.known_open()
    keys.create("mine", "read")
    assert keys.auth_required() and not keys.known_open()


def test_revoked_and_expired_keys_are_refused_and_still_require_auth(
    catalog: Stores, clock: Clock
) -> None:
    keys = service(catalog, clock)
    expiring = keys.create("temporary", "read", expires_at=START + timedelta(hours=1))
    revoked = keys.create("gone", "admin")
    assert keys.revoke(revoked.record.id).revoked_at == START
    with pytest.raises(Unauthorized, match="revoked"):
        keys.authenticate(revoked.secret)
    assert keys.authenticate(expiring.secret).scope is Scope.READ
    clock.now = START + timedelta(hours=1)
    with pytest.raises(Unauthorized, match="expired"):
        keys.authenticate(expiring.secret)
    # Every key is unusable now, yet the API stays closed: revoking never opens it.
    assert service(catalog, clock).auth_required()
    listed = keys.list_keys()
    assert [record.name for record in listed] == ["temporary", "gone"]
    with pytest.raises(KeyNotFound):
        keys.revoke("key_unknown")


def test_a_use_is_written_at_most_once_a_minute(catalog: Stores, clock: Clock) -> None:
    keys = service(catalog, clock)
    made = keys.create("busy", "read")
    assert keys.get(made.record.id).last_used_at is None
    keys.authenticate(made.secret)
    assert keys.get(made.record.id).last_used_at == START
    clock.now = START + TOUCH_EVERY - timedelta(seconds=1)
    keys.authenticate(made.secret)
    assert keys.get(made.record.id).last_used_at == START  # not written again yet
    clock.now = START + TOUCH_EVERY
    keys.authenticate(made.secret)
    assert keys.get(made.record.id).last_used_at == START + TOUCH_EVERY


@pytest.mark.parametrize(
    ("name", "scope", "expires_at"),
    [
        ("", "read", None),
        ("x" * 256, "read", None),
        ("fine", "superuser", None),
        ("fine", "read", START),
        ("fine", "read", datetime(2031, 1, 1)),
    ],
)
def test_bad_keys_are_refused_and_nothing_is_stored(
    catalog: Stores, clock: Clock, name: str, scope: str, expires_at: datetime | None
) -> None:
    keys = service(catalog, clock)
    with pytest.raises(InvalidParameter):
        keys.create(name, scope, expires_at)
    assert keys.list_keys() == [] and not keys.auth_required()


def test_environment_keys_are_admins_and_are_not_stored(catalog: Stores) -> None:
    keys = service(catalog, api_keys="alpha-key, beta-key")
    assert keys.auth_required()
    principal = keys.authenticate("beta-key")
    assert principal.scope is Scope.ADMIN and principal.key_id.startswith("env:")
    assert "beta-key" not in principal.key_id
    assert keys.list_keys() == []
    with pytest.raises(Unauthorized):
        keys.authenticate("alpha")


def test_sessions_end_on_the_server(catalog: Stores, clock: Clock) -> None:
    keys = service(catalog, clock, api_keys="env-admin-key")
    stored = keys.create("browser user", "write")
    principal = keys.authenticate(stored.secret)
    first, second = keys.start_session(principal), keys.start_session(principal)
    with catalog.db.read() as conn:
        kept = set(conn.scalars(select(t.web_sessions.c.token_hash)))
    assert first not in kept and secret_hash(first) in kept  # only a hash of the cookie
    assert keys.session_principal(first) == principal

    keys.end_session(first)  # signing out ends this session only
    assert keys.session_principal(first) is None
    assert keys.session_principal(second) == principal

    third = keys.start_session(principal)
    admin = keys.start_session(keys.authenticate("env-admin-key"))
    assert keys.end_sessions(principal.key_id) == 2  # everywhere, for this key only
    assert keys.session_principal(second) is None and keys.session_principal(third) is None
    assert keys.session_principal(admin) is not None

    fourth = keys.start_session(principal)
    keys.revoke(stored.record.id)  # revoking the key ends its sessions
    assert keys.session_principal(fourth) is None

    clock.now = START + SESSION_LIFETIME
    assert keys.session_principal(admin) is None  # run out, whatever the browser keeps
    # Sessions of an environment key end when the key leaves SIGHTLINE_API_KEYS.
    clock.now = START
    assert service(catalog, clock, api_keys="another-key").session_principal(admin) is None
    assert keys.session_principal("") is None and keys.session_principal("forged") is None


def test_processes_on_one_catalog_share_the_generated_signing_secret(catalog: Stores) -> None:
    first, second = service(catalog), service(catalog)
    signature = first.link_signer().sign("img_1", "content", 2_000_000_000)
    assert second.link_signer().sign("img_1", "content", 2_000_000_000) == signature
    configured = service(catalog, url_signing_key="a secret of our own")
    assert configured.link_signer().sign("img_1", "content", 2_000_000_000) != signature
