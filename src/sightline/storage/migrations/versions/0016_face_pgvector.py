"""pgvector searches faces too: on PostgreSQL where migration 0006 gave `image_vectors` its
`halfvec` column, `faces` gets one, `embedding`, filled from the descriptors already stored.

Revision ID: 0016
Revises: 0015

The database then answers face searches for every process (`search.pgvector`, an HNSW index made
on first use), as it does image searches. Where 0006 found no pgvector, or on SQLite, nothing
changes and face search stays in process. Additive: processes of the previous version do not
read the column; the faces they write meanwhile have no embedding, so face search misses them
until their image is analysed again. The downgrade drops the column, with its indexes.
"""

from __future__ import annotations

from alembic import op

from sightline.storage.migrations.halfvec import copy_to_halfvec

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Where 0006 found pgvector (the extension alone may have come later, by hand): image and
    # face search then run in the same place.
    has_pgvector = bind.exec_driver_sql(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = 'image_vectors' AND column_name = 'embedding'"
    ).scalar()
    if not has_pgvector:
        return
    op.execute("ALTER TABLE faces ADD COLUMN embedding halfvec")
    copy_to_halfvec(bind, "faces")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE faces DROP COLUMN IF EXISTS embedding")
