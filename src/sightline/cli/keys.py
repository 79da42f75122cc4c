"""`sightline keys`: make, list and revoke stored API keys, working on the catalog directly
(no server needed; any process on the same catalog sees the change at once)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from sightline.cli.options import data_dir_option, setting_option, settings_from
from sightline.collection import collection_name
from sightline.errors import InvalidCollection, SightlineError
from sightline.keys import KeyRecord, KeyService, Scope


@contextmanager
def key_service(data_dir: Path | None, catalog_url: str | None) -> Iterator[KeyService]:
    # Imported here: `--help` needs no database driver.
    from sightline.stores import catalog_indexer, open_stores

    settings = settings_from(data_dir=data_dir, catalog_url=catalog_url)
    try:
        # Its migrations may rebuild the search documents, synonyms and all.
        stores = open_stores(settings.resolved_catalog_url(), catalog_indexer(settings.model_dir))
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc
    try:
        yield KeyService(settings, stores.keys)
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        stores.close()


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


catalog_option = setting_option("--catalog-url", "catalog_url")


def _collection(value: str | None) -> str | None:
    try:
        return None if value is None else collection_name(value)
    except InvalidCollection as exc:
        raise click.BadParameter(exc.message) from None


@click.group()
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
def keys_create(
    name: str,
    scope: str,
    expires_in_days: float | None,
    collection: str | None,
    data_dir: Path | None,
    catalog_url: str | None,
) -> None:
    """Make a key; prints it as JSON with its `secret`, shown this once only."""
    expires_at = None
    if expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
    with key_service(data_dir, catalog_url) as service:
        made = service.create(name, Scope(scope), expires_at, collection)
    click.echo(json.dumps({**_shown(made.record), "secret": made.secret}))
    click.echo("Keep the secret now: it is not shown again.", err=True)


@keys.command("list")
@data_dir_option
@catalog_option
def keys_list(data_dir: Path | None, catalog_url: str | None) -> None:
    """Stored keys, oldest first, one JSON object a line (revoked ones too)."""
    with key_service(data_dir, catalog_url) as service:
        for record in service.list_keys():
            click.echo(json.dumps(_shown(record)))


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
