"""Migrations on a fresh database: several processes starting at once upgrade it exactly once;
revisions that can be undone are."""

from __future__ import annotations

import threading

from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from sightline.keys.sql import SIGNING_SECRET, SQLKeyStore
from sightline.storage import tables as t
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


def test_the_access_control_revision_upgrades_and_downgrades(empty_catalog_url: str) -> None:
    db = Database(empty_catalog_url)
    try:
        migrate(db, revision="0007")
        assert not {"api_keys", "web_sessions"} & set(inspect(db.engine).get_table_names())
        migrate(db)
        assert {"api_keys", "web_sessions"} <= set(inspect(db.engine).get_table_names())
        keys = SQLKeyStore(db)
        secret = keys.signing_secret("generated once")
        assert keys.signing_secret("generated again") == secret
        with db.write() as conn:
            config = alembic_config(db)
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
        assert not {"api_keys", "web_sessions"} & set(inspect(db.engine).get_table_names())
        with db.read() as conn:
            assert (
                conn.scalar(
                    select(t.catalog_state.c.value).where(t.catalog_state.c.key == SIGNING_SECRET)
                )
                is None
            )
        migrate(db)
        assert SQLKeyStore(db).signing_secret("a new one") == "a new one"
    finally:
        db.dispose()
