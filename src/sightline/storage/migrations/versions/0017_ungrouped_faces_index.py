"""A partial index of the faces waiting to be grouped: after every analysis that stores faces,
grouping reads them oldest first, and without it both databases walked every face from the
oldest (at 100,000 faces, 400 MB of rows with their descriptors) to find the few new ones.

Revision ID: 0017
Revises: 0016

Additive: processes of the previous version read the same rows, faster.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UNGROUPED = sa.text("cluster_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_faces_ungrouped",
        "faces",
        ["seq"],
        sqlite_where=UNGROUPED,
        postgresql_where=UNGROUPED,
    )


def downgrade() -> None:
    op.drop_index("ix_faces_ungrouped", table_name="faces")
