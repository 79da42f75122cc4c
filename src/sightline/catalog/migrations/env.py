"""Alembic environment: always run with a connection handed in by `sightline.catalog.migrate`."""

from __future__ import annotations

from alembic import context

from sightline.catalog.tables import metadata
from sightline.catalog.text_search import is_index_table

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    # The full-text index (FTS5 and its shadow tables) is made by hand, not from `metadata`.
    include_name=lambda name, type_, _parent: not (type_ == "table" and is_index_table(name)),
)
context.run_migrations()
