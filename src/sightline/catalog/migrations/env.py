"""Alembic environment: always run with a connection handed in by `sightline.catalog.migrate`."""

from __future__ import annotations

from alembic import context

from sightline.catalog.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
