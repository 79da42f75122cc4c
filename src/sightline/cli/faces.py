"""`sightline faces purge`: remove all biometric data, working on the catalog directly (no server
needed; running processes drop their face indexes at their next face search)."""

from __future__ import annotations

from pathlib import Path

import click

from sightline.cli.local import catalog_stores
from sightline.cli.options import catalog_option, data_dir_option


@click.group(
    epilog="""\b
Examples:
  sightline faces purge --yes
"""
)
def faces() -> None:
    """Faces across images (the opt-in face_embedding feature)."""


@faces.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_dir_option
@catalog_option
def faces_purge(yes: bool, data_dir: Path | None, catalog_url: str | None) -> None:
    """Delete every face descriptor, person, cluster and face_embedding result, and the face
    index's snapshots. The images and their other results stay."""
    # Imported here: `--help` needs no database driver.
    from sightline.faces.service import FACE_PROBES, purge
    from sightline.search.vectors import VectorSearch

    if not yes:
        click.confirm("Delete all face descriptors, people and clusters?", abort=True)
    with catalog_stores(data_dir, catalog_url) as (settings, stores):
        faces_deleted, results = purge(
            stores.faces,
            VectorSearch(stores.faces, settings.index_dir() / "faces", probes=FACE_PROBES),
        )
    click.echo(f"Purged {faces_deleted} faces and {results} face_embedding results.")
