"""Migrations on a fresh database: several processes starting at once upgrade it exactly once."""

from __future__ import annotations

import threading

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from sightline.storage.database import Database
from sightline.storage.migrate import alembic_config
from sightline.stores import migrate


def test_processes_starting_together_upgrade_a_fresh_database_once(empty_catalog_url: str) -> None:
    databases = [Database(empty_catalog_url) for _ in range(3)]
    start = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def start_up(db: Database) -> None:
        start.wait()
        try:
            migrate(db)
        except BaseException as exc:
            errors.append(exc)

    # Daemon threads: without the lock, upgrades can block each other for good.
    threads = [threading.Thread(target=start_up, args=(db,), daemon=True) for db in databases]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "the upgrades are stuck"
        assert errors == []
        head = ScriptDirectory.from_config(alembic_config(databases[0])).get_current_head()
        with databases[0].engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
    finally:
        for db in databases:
            db.dispose()
