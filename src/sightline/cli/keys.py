"""`sightline keys`: make, list and revoke stored API keys, working on the catalog directly
(no server needed; any process on the same catalog sees the change at once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from sightline.cli.local import catalog_stores
from sightline.cli.options import catalog_option, data_dir_option
from sightline.cli.output import Column, Format, Printer, moment, output_options
from sightline.collection import collection_name
from sightline.errors import InvalidCollection, SightlineError
from sightline.keys import KeyRecord, KeyService, Scope


@contextmanager
def key_service(data_dir: Path | None, catalog_url: str | None) -> Iterator[KeyService]:
    with catalog_stores(data_dir, catalog_url) as (settings, stores):
        try:
            yield KeyService(settings, stores.keys)
        except SightlineError as exc:
            raise click.ClickException(exc.message) from exc


def _shown(record: KeyRecord) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "id": record.id,
        "name": record.name,
        "scope": record.scope.value,
        "prefix": record.prefix,
        "created_at": when(record.created_at),
        "expires_at": when(record.expires_at),
        "last_used_at": when(record.last_used_at),
        "revoked_at": when(record.revoked_at),
        "collection": record.collection,
    }


KEY_COLUMNS = [
    Column("ID", lambda key: key["id"], style="cyan", no_wrap=True),
    Column("Name", lambda key: key["name"]),
    Column("Scope", lambda key: key["scope"]),
    Column("Collection", lambda key: key["collection"] or "every"),
    Column("Created", lambda key: moment(key["created_at"]), no_wrap=True),
    Column("Expires", lambda key: moment(key["expires_at"]) or "never", no_wrap=True),
    Column("Last used", lambda key: moment(key["last_used_at"]), no_wrap=True),
    Column("Revoked", lambda key: moment(key["revoked_at"]), no_wrap=True),
]
SECRET = Column("Secret", lambda key: key["secret"], style="bold", no_wrap=True)


def _collection(value: str | None) -> str | None:
    try:
        return None if value is None else collection_name(value)
    except InvalidCollection as exc:
        raise click.BadParameter(exc.message) from None


@click.group(
    epilog="""\b
Examples:
  sightline keys create "ci uploader" --scope write --expires-in-days 90
  sightline keys create shop-app --collection shop
  sightline keys list
  sightline keys revoke key_01J…
"""
)
def keys() -> None:
    """Make, list and revoke API keys (on the catalog; no server needed).

    Keys of SIGHTLINE_API_KEYS are admin keys and are not stored here. Once any key exists,
    every /v1 request needs one.
    """


@keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice([scope.value for scope in Scope]),
    default=Scope.READ.value,
    show_default=True,
    help="read: GET and HEAD; write: every method; admin: also keys, subscriptions and "
    "publishing classifiers.",
)
@click.option(
    "--expires-in-days",
    type=click.FloatRange(min=0, min_open=True),
    help="The key stops working after this many days; default: never.",
)
@click.option(
    "--collection",
    callback=lambda _ctx, _param, value: _collection(value),
    help="Bind the key to this collection: it sees and changes only that one, and cannot "
    "manage keys. Default: every collection.",
)
@data_dir_option
@catalog_option
@output_options
def keys_create(
    name: str,
    scope: str,
    expires_in_days: float | None,
    collection: str | None,
    data_dir: Path | None,
    catalog_url: str | None,
    output: Format,
) -> None:
    """Make a key; prints it with its `secret`, shown this once only."""
    expires_at = None
    if expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
    with key_service(data_dir, catalog_url) as service:
        made = service.create(name, Scope(scope), expires_at, collection)
    printer = Printer(output)
    printer.one({**_shown(made.record), "secret": made.secret}, [*KEY_COLUMNS, SECRET])
    printer.note("Keep the secret now: it is not shown again.")


@keys.command("list")
@data_dir_option
@catalog_option
@output_options
def keys_list(data_dir: Path | None, catalog_url: str | None, output: Format) -> None:
    """Stored keys, oldest first (revoked ones too); never their secrets."""
    with key_service(data_dir, catalog_url) as service:
        records = service.list_keys()
    Printer(output).rows([_shown(record) for record in records], KEY_COLUMNS)


@keys.command("revoke")
@click.argument("key_id")
@data_dir_option
@catalog_option
def keys_revoke(key_id: str, data_dir: Path | None, catalog_url: str | None) -> None:
    """Revoke a key at once and sign out the browsers signed in with it."""
    with key_service(data_dir, catalog_url) as service:
        service.revoke(key_id)
    click.echo(f"Revoked {key_id}.")


@keys.command("sign-out")
@click.argument("key_id")
@data_dir_option
@catalog_option
def keys_sign_out(key_id: str, data_dir: Path | None, catalog_url: str | None) -> None:
    """Sign out every browser signed in with a key; the key keeps working."""
    with key_service(data_dir, catalog_url) as service:
        ended = service.end_sessions(key_id)
    click.echo(f"{ended} sessions ended.")
