"""Search documents gain the WordNet synonyms of their tag words ("blossom" finds a flower),
in the weak-tags column: the documents of images analysed before are rebuilt, on SQLite and
PostgreSQL alike. The index itself is unchanged.

Revision ID: 0010
Revises: 0009

The synonyms come from the tags model's `labels.json` as `sightline models prepare` (recipe 2)
writes it: a deployment that prepares its models before this migration runs gets them; one
that prepares them later gets them for each image as its results change.
"""

from __future__ import annotations

from alembic import context, op

from sightline.storage.migrate import REBUILD_DOCUMENTS

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    context.config.attributes[REBUILD_DOCUMENTS](op.get_bind())


def downgrade() -> None:
    # The documents of revision 0009 had fewer words; having more finds more, harms nothing.
    pass
