"""`sightline faces purge`: remove all biometric data, working on the catalog directly (no server
needed; running processes drop their face indexes at their next face search)."""

from __future__ import annotations

from pathlib import Path

import click

from sightline.cli.local import opening_refused
from sightline.cli.options import data_dir_option, setting_option, settings_from
from sightline.errors import SightlineError

catalog_option = setting_option("--catalog-url", "catalog_url")


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
    from sightline.app import schema_changes
    from sightline.faces.service import FACE_PROBES, purge
    from sightline.search.vectors import VectorSearch
    from sightline.stores import catalog_indexer, open_stores

    if not yes:
        click.confirm("Delete all face descriptors, people and clusters?", abort=True)
    settings = settings_from(data_dir=data_dir, catalog_url=catalog_url)
    try:
        stores = open_stores(
            settings.resolved_catalog_url(),
            catalog_indexer(settings.model_dir),
            schema_changes(settings, runs_service=False),
        )
    except SightlineError as exc:
        raise opening_refused(exc) from exc
    try:
        faces_deleted, results = purge(
            stores.faces,
            VectorSearch(stores.faces, settings.index_dir() / "faces", probes=FACE_PROBES),
        )
    finally:
        stores.close()
    click.echo(f"Purged {faces_deleted} faces and {results} face_embedding results.")
