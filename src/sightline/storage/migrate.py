"""Run the database's Alembic migrations from code: start-up and `sightline migrate` use this.

Three revisions rebuild the search documents of images analysed before them; what a document
holds is the search domain's business, so the caller hands that step in (`rebuild_documents`)
rather than the migrations reaching up into `search`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from sightline.storage.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")
REBUILD_DOCUMENTS = "rebuild_documents"
DocumentRebuild = Callable[[Connection], object]


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, *, rebuild_documents: DocumentRebuild, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call from several processes at once."""
    config = alembic_config(db)
    config.attributes[REBUILD_DOCUMENTS] = rebuild_documents
    with db.write(schema_change=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7316455)")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
