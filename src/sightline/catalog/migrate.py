"""Run the catalog's Alembic migrations from code: start-up and `sightline migrate` use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from sightline.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call from several processes at once."""
    config = alembic_config(db)
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7316455)")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
