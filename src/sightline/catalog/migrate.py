"""Run the catalog's Alembic migrations from code: start-up and `sightline migrate` use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config

from sightline.database import Database
from sightline.indexing import Indexer, no_index_entries

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head", indexer: Indexer = no_index_entries) -> None:
    """Bring the schema to `revision`; safe to call from several processes at once. Revisions
    that build text documents take their words from `indexer`."""
    config = alembic_config(db)
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7316455)")
        config.attributes["connection"] = conn
        config.attributes["indexer"] = indexer
        command.upgrade(config, revision)


def run_indexer() -> Indexer:
    """Inside a revision: the indexer `upgrade` was given."""
    indexer: Indexer = context.config.attributes["indexer"]
    return indexer
