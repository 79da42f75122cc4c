"""Direct uploads are settled once past their expiry: the inbox reconciler records when, and
a reservation settled without its image is `expired` for good (an object arriving later at its
key is removed). The index finds the unsettled ones past a time without reading the others.

Revision ID: 0011
Revises: 0010

Uploads stored before are unsettled: the first reconciliation settles them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_uploads_unsettled", "uploads", ["settled_at", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_uploads_unsettled", table_name="uploads")
    op.drop_column("uploads", "settled_at")
