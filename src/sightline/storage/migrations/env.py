"""Alembic environment: always run with a connection handed in by `sightline.storage.migrate`."""

from __future__ import annotations

from alembic import context

from sightline.storage.tables import is_hand_made, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    # The full-text and vector indexes are made by hand, not from `metadata`.
    include_name=lambda name, type_, _parent: not is_hand_made(name, type_),
)
context.run_migrations()
