"""pgvector on PostgreSQL, where the extension is installed: vectors also as `halfvec`.

Revision ID: 0006
Revises: 0005

The column is untyped (dimensions differ per feature); `search.pgvector` makes an HNSW
index per feature and size when first needed. Without the extension (or the right to create
it), nothing changes and vector search stays in process. Vectors already stored are copied in.
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

from sightline.storage.migrations.halfvec import copy_to_halfvec

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.exec_driver_sql(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
    ).scalar()
    if not available:
        log.warning("pgvector is not installed: vector search runs in each process")
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except DBAPIError as exc:
        log.warning("Cannot create the pgvector extension (%s): vector search runs in process", exc)
        return
    op.execute("ALTER TABLE image_vectors ADD COLUMN embedding halfvec")
    copy_to_halfvec(bind, "image_vectors")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE image_vectors DROP COLUMN IF EXISTS embedding")
