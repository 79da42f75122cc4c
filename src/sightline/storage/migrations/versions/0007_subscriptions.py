"""Event subscriptions (webhooks): subscriptions, their deliveries and the delivery log.

Revision ID: 0007
Revises: 0006

The fan-out's watermark starts at the end of the event log: events written before this
revision are not delivered to anyone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WATERMARK = "subscriptions_seq"  # as in `webhooks.sql`


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("subject_begins_with", sa.String(length=1024), nullable=True),
        sa.Column("subject_ends_with", sa.String(length=1024), nullable=True),
        sa.Column("data_filters", sa.JSON(), nullable=False),
        sa.Column("max_events_per_batch", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("event_ttl_minutes", sa.Float(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("start_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("event_seq", SEQ, nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease", sa.String(length=32), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=1024), nullable=True),
        sa.Column("last_latency_ms", sa.Float(), nullable=True),
        sa.Column("dead_letter_reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_seq"], ["events.seq"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "subscription_id", "event_seq", name="uq_deliveries_subscription_event"
        ),
    )
    op.create_index(
        "ix_deliveries_subscription_status",
        "deliveries",
        ["subscription_id", "status", "event_seq"],
    )
    op.create_index(
        "ix_deliveries_subject", "deliveries", ["subscription_id", "subject", "event_seq"]
    )
    op.create_index("ix_deliveries_event_seq", "deliveries", ["event_seq"])
    for name, column in (
        ("ix_deliveries_due", "next_attempt_at"),
        ("ix_deliveries_expiry", "expires_at"),
    ):
        op.create_index(
            name,
            "deliveries",
            [column],
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
    op.create_index("ix_deliveries_delivered_at", "deliveries", ["delivered_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", SEQ, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("delivery_ids", sa.JSON(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delivery_attempts_at", "delivery_attempts", ["at"])
    op.create_index(
        "ix_delivery_attempts_subscription_id", "delivery_attempts", ["subscription_id", "id"]
    )
    op.execute(
        "INSERT INTO catalog_state (key, value) "
        f"SELECT '{WATERMARK}', CAST(COALESCE(MAX(seq), 0) AS VARCHAR(32)) FROM events"
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM catalog_state WHERE key = '{WATERMARK}'")
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("subscriptions")
