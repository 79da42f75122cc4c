"""Full-text search on PostgreSQL: a weighted tsvector per image (`search.tsvector`).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import context, op

from sightline.storage.migrate import REBUILD_DOCUMENTS

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":  # SQLite has FTS5 since revision 0003
        return
    # English stemming without stop words, like FTS5's porter tokenizer.
    op.execute(
        "CREATE TEXT SEARCH DICTIONARY sightline_english (TEMPLATE = snowball, LANGUAGE = english)"
    )
    op.execute("CREATE TEXT SEARCH CONFIGURATION sightline (COPY = english)")
    op.execute(
        "ALTER TEXT SEARCH CONFIGURATION sightline ALTER MAPPING FOR asciiword, asciihword, "
        "hword_asciipart, word, hword, hword_part WITH sightline_english"
    )
    op.execute(
        "CREATE TABLE image_text ("
        "image_id VARCHAR(40) PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE, "
        "document TSVECTOR NOT NULL)"
    )
    op.execute("CREATE INDEX ix_image_text_document ON image_text USING gin (document)")
    op.execute(
        "CREATE INDEX ix_image_text_labels ON image_text USING gin (ts_filter(document, '{a}'))"
    )
    op.execute(
        "CREATE INDEX ix_image_text_tags ON image_text USING gin (ts_filter(document, '{b,d}'))"
    )
    # Images analysed before this revision become searchable now, with today's code: should the
    # document ever change, this call goes and the revision that changes it rebuilds.
    context.config.attributes[REBUILD_DOCUMENTS](bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE image_text")
        op.execute("DROP TEXT SEARCH CONFIGURATION sightline")
        op.execute("DROP TEXT SEARCH DICTIONARY sightline_english")
