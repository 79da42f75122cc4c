"""Faces across images: a face's descriptor, its cluster and person, the people, and the "not the
same" marks (`sightline.faces`).

Revision ID: 0014
Revises: 0013

Additive: three new tables, filled only by the opt-in `face_embedding` feature. Processes of the
previous version keep working: they do not read them. The downgrade drops them, and with them
every descriptor kept outside the feature results.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("collection", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_people_collection_name", "people", ["collection", "name"])
    op.create_table(
        "faces",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("image_id", sa.String(length=40), nullable=False),
        sa.Column("collection", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("cluster_id", sa.String(length=40), nullable=True),
        sa.Column("person_id", sa.String(length=40), nullable=True),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id", name="uq_faces_id"),
        sa.UniqueConstraint("image_id", "feature", "position", name="uq_faces_image_position"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_faces_version_seq", "faces", ["version", "seq"])
    op.create_index("ix_faces_collection_cluster", "faces", ["collection", "cluster_id"])
    op.create_index("ix_faces_person", "faces", ["person_id"])
    op.create_table(
        "face_separations",
        sa.Column("face_id", sa.String(length=40), nullable=False),
        sa.Column("other_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["face_id"], ["faces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("face_id", "other_id"),
    )


def downgrade() -> None:
    op.drop_table("face_separations")
    op.drop_index("ix_faces_person", table_name="faces")
    op.drop_index("ix_faces_collection_cluster", table_name="faces")
    op.drop_index("ix_faces_version_seq", table_name="faces")
    op.drop_table("faces")
    op.drop_index("ix_people_collection_name", table_name="people")
    op.drop_table("people")
