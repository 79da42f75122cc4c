"""The service opened in this process, for commands that work on its stores directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from sightline.cli.options import settings_from
from sightline.errors import CatalogSchemaBehind, SightlineError
from sightline.settings import Settings

if TYPE_CHECKING:
    from sightline.app import Sightline


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
