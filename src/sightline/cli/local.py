"""The service opened in this process, for commands that work on its stores directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from sightline.cli.options import settings_from
from sightline.errors import SightlineError
from sightline.settings import Settings

if TYPE_CHECKING:
    from sightline.app import Sightline


def open_sightline(settings: Settings) -> Sightline:
    # Imported here: building the app pulls in every store and model, which `--help` and the
    # client commands never need.
    from sightline.app import Sightline

    try:
        return Sightline(settings)
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc


@contextmanager
def sightline_without_workers(**overrides: Any) -> Iterator[Sightline]:
    """The stores named by `overrides` (flags) and the environment, with no analysis running."""
    sightline = open_sightline(settings_from(workers=0, **overrides))
    try:
        yield sightline
    finally:
        sightline.close()
