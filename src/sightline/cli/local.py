"""The service opened in this process, for commands that work on its stores directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sightline.cli.options import settings_from
from sightline.errors import CatalogSchemaBehind, SightlineError
from sightline.settings import Settings

if TYPE_CHECKING:
    from sightline.app import Sightline
    from sightline.stores import Stores


def open_sightline(settings: Settings, *, runs_service: bool = True) -> Sightline:
    """`runs_service`: `serve` and `worker`, which may upgrade the catalog's schema (see
    `app.schema_changes`); one-off commands pass False."""
    # Imported here: building the app pulls in every store and model, which `--help` and the
    # client commands never need.
    from sightline.app import Sightline

    try:
        return Sightline(settings, runs_service=runs_service)
    except SightlineError as exc:
        raise opening_refused(exc) from exc


def opening_refused(exc: SightlineError) -> click.ClickException:
    """The error that ends a command whose stores would not open."""
    if isinstance(exc, CatalogSchemaBehind):
        # With its code: scripts and orchestrators tell it from other failures (docs/deploy).
        return click.ClickException(f"{exc.code}: {exc.message}")
    return click.ClickException(exc.message)


@contextmanager
def sightline_without_workers(**overrides: Any) -> Iterator[Sightline]:
    """The stores named by `overrides` (flags) and the environment, with no analysis running."""
    sightline = open_sightline(settings_from(workers=0, **overrides), runs_service=False)
    try:
        yield sightline
    finally:
        sightline.close()


@contextmanager
def catalog_stores(
    data_dir: Path | None, catalog_url: str | None
) -> Iterator[tuple[Settings, Stores]]:
    """The settings (flags over the environment) and the catalog's stores alone, for commands
    that change the catalog directly: no blob store, queue or model is opened."""
    # Imported here: `--help` needs no database driver.
    from sightline.app import schema_changes
    from sightline.stores import catalog_indexer, open_stores

    settings = settings_from(data_dir=data_dir, catalog_url=catalog_url)
    try:
        # Creating an empty catalog may rebuild the search documents, synonyms and all.
        stores = open_stores(
            settings.resolved_catalog_url(),
            catalog_indexer(settings.model_dir),
            schema_changes(settings, runs_service=False),
        )
    except SightlineError as exc:
        raise opening_refused(exc) from exc
    try:
        yield settings, stores
    finally:
        stores.close()
