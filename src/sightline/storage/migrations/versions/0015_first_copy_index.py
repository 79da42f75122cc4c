"""An index for an upload's first copy: the images of the same bytes in the same collection, by
id, in one lookup. With only the bytes' index SQLite chose the collection's `(collection, id)`
index and walked every image of the collection for each upload of new bytes (an upload's catalog
write grew with the collection: 2 ms more a new file at 8,000 images).

Revision ID: 0015
Revises: 0014

Additive for readers: the new index replaces the one on `sha256` alone, whose every use the new
one's prefix serves. Processes of the previous version keep working.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_images_sha256_collection_id", "images", ["sha256", "collection", "id"])
    op.drop_index("ix_images_sha256", table_name="images")


def downgrade() -> None:
    op.create_index("ix_images_sha256", "images", ["sha256"])
    op.drop_index("ix_images_sha256_collection_id", table_name="images")
