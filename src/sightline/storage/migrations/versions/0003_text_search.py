"""Full-text search: the FTS5 table `image_text`, one document per image (SQLite only).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import context, op

from sightline.storage.migrate import REBUILD_DOCUMENTS

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    # PostgreSQL gets its own full-text search in revision 0005.
    if bind.dialect.name != "sqlite":
        return
    op.execute(
        "CREATE VIRTUAL TABLE image_text USING fts5(labels, tags, weak_tags, text, filename, "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    # The document goes with its image, however the row is deleted: SQLite gives a freed rowid
    # to the next image, which must not inherit the old words.
    op.execute(
        "CREATE TRIGGER image_text_drop AFTER DELETE ON images BEGIN "
        "DELETE FROM image_text WHERE rowid = old.rowid; END"
    )
    # Images analysed before this revision become searchable now, with today's code: should the
    # columns ever change, this call goes and the revision that changes them rebuilds.
    context.config.attributes[REBUILD_DOCUMENTS](bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER image_text_drop")
        op.execute("DROP TABLE image_text")
