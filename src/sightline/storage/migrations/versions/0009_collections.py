"""Collections: images, their vectors, direct uploads and classifiers belong to one; events,
subscriptions and API keys may name one (a key naming one is bound to it). Classifier names
become unique per collection.

Revision ID: 0009
Revises: 0008

Everything stored before is in the `default` collection: the events about images, classifiers
and uploads too; events about the server (index rebuilds) and existing subscriptions name none,
so only callers bound to no collection see them, as before.

On SQLite the classifiers table is copied to drop its unique name (the migrations run with
foreign keys unenforced, see `Database.write`); `images` only gains a column, which keeps its
rowids and the full-text index keyed by them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DEFAULT = "default"  # sightline.collection.DEFAULT_COLLECTION when this revision was written
LENGTH = 64
OWNED = ("images", "image_vectors", "uploads", "classifiers")  # every row in one collection
NAMED = ("events", "subscriptions", "api_keys")  # may name one (a key: the one it is bound to)
# SQLite names no UNIQUE constraint written inline: batch mode names it by this convention.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
POSTGRES_NAME_KEY = "classifiers_name_key"  # PostgreSQL's name for 0002's UNIQUE (name)


def upgrade() -> None:
    for table in OWNED:
        op.add_column(
            table,
            sa.Column("collection", sa.String(LENGTH), nullable=False, server_default=DEFAULT),
        )
    for table in NAMED:
        op.add_column(table, sa.Column("collection", sa.String(LENGTH), nullable=True))
    op.execute(
        f"UPDATE events SET collection = '{DEFAULT}' WHERE subject LIKE 'images/%' "
        "OR subject LIKE 'classifiers/%' OR subject LIKE 'uploads/%'"
    )
    op.create_index("ix_images_collection_id", "images", ["collection", "id"])
    op.create_index(
        "ix_image_vectors_collection_space", "image_vectors", ["collection", "feature", "version"]
    )
    op.create_index("ix_events_collection_seq", "events", ["collection", "seq"])
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "classifiers", recreate="always", naming_convention=SQLITE_NAMES
        ) as batch:
            batch.drop_constraint("uq_classifiers_name", type_="unique")
            batch.create_unique_constraint("uq_classifiers_collection_name", ["collection", "name"])
    else:
        op.drop_constraint(POSTGRES_NAME_KEY, "classifiers", type_="unique")
        op.create_unique_constraint(
            "uq_classifiers_collection_name", "classifiers", ["collection", "name"]
        )


def downgrade() -> None:
    # Fails where two collections have a classifier of the same name: merging them is the
    # operator's decision, not the downgrade's.
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("classifiers", recreate="always") as batch:
            batch.drop_constraint("uq_classifiers_collection_name", type_="unique")
            batch.create_unique_constraint("uq_classifiers_name", ["name"])
    else:
        op.drop_constraint("uq_classifiers_collection_name", "classifiers", type_="unique")
        op.create_unique_constraint(POSTGRES_NAME_KEY, "classifiers", ["name"])
    op.drop_index("ix_events_collection_seq", table_name="events")
    op.drop_index("ix_image_vectors_collection_space", table_name="image_vectors")
    op.drop_index("ix_images_collection_id", table_name="images")
    for table in (*OWNED, *NAMED):
        # A plain ALTER TABLE on SQLite too (3.35+): copying `images` would renumber the rowids
        # its full-text index is keyed by.
        op.execute(f"ALTER TABLE {table} DROP COLUMN collection")
