"""The cloud facades keep their state in the catalog, so that every API replica answers alike:
Custom Vision's tags (a tag with no image yet, names up to 256 characters) and Computer Vision
3.2's finished Read operations (polled on any replica). Labels grow to 256 characters, as long
as a Custom Vision tag's name.

Revision ID: 0013
Revises: 0012

Additive: two new tables, and a wider column (PostgreSQL changes only the limit; SQLite copies
the labelled examples into the new shape). Processes of the previous version keep working: they
do not read the new tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("classifier_examples") as batch:
        batch.alter_column(
            "label", existing_type=sa.String(64), type_=sa.String(256), existing_nullable=False
        )
    op.create_table(
        "custom_vision_tags",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("classifier_id", sa.String(length=40), nullable=False),
        sa.Column("collection", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["classifier_id"], ["classifiers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("classifier_id", "name", name="uq_custom_vision_tags_classifier_name"),
    )
    op.create_table(
        "read_operations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("collection", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_read_operations_created_at", "read_operations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_read_operations_created_at", table_name="read_operations")
    op.drop_table("read_operations")
    op.drop_table("custom_vision_tags")
    # Labels longer than the old limit would not fit: their examples go with the wider column.
    op.execute("DELETE FROM classifier_examples WHERE length(label) > 64")
    with op.batch_alter_table("classifier_examples") as batch:
        batch.alter_column(
            "label", existing_type=sa.String(256), type_=sa.String(64), existing_nullable=False
        )
