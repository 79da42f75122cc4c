"""Events remember the API request that caused them (`requestid`), so that the jobs they ask
for log it.

Revision ID: 0012
Revises: 0011

Additive: a nullable column, written by this version only; events stored before, and those
written meanwhile by processes of the previous version, have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("request_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("request_id")
