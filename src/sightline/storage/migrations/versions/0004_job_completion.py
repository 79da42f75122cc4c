"""Record when the job an event asked for has finished, and which queue the catalog last fed,
so that a lost queue can be rebuilt from the catalog; and direct uploads awaiting their object.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True)))
    # Events relayed before this revision count as finished: their jobs predate the record, and
    # rebuilding a queue would otherwise repeat every job still within the retention window.
    op.execute("UPDATE events SET finished_at = dispatched_at WHERE dispatched_at IS NOT NULL")
    op.create_index(
        "ix_events_unfinished",
        "events",
        ["seq"],
        sqlite_where=sa.text("finished_at IS NULL"),
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    op.create_table(
        "catalog_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("inbox_key", sa.String(length=1024), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("client_metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_uploads_inbox_key", "uploads", ["inbox_key"], unique=True)


def downgrade() -> None:
    op.drop_table("uploads")
    op.drop_table("catalog_state")
    op.drop_index("ix_events_unfinished", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("finished_at")
