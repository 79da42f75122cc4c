"""pgvector searches faces too: on PostgreSQL where migration 0006 gave `image_vectors` its
`halfvec` column, `faces` gets one, `embedding`, filled from the descriptors already stored.

Revision ID: 0016
Revises: 0015

The database then answers face searches for every process (`search.pgvector`, an HNSW index made
on first use), as it does image searches. Where 0006 found no pgvector, or on SQLite, nothing
changes and face search stays in process. Additive: processes of the previous version do not
read the column; the faces they write meanwhile have no embedding, so face search misses them
until their image is analysed again. The downgrade drops the column, with its indexes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from alembic import op
from sqlalchemy import Connection, text

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

MAX_STORED_DIMS = 16_000  # halfvec's limit, as in `search.pgvector`


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Where 0006 found pgvector (the extension alone may have come later, by hand): image and
    # face search then run in the same place.
    has_pgvector = bind.exec_driver_sql(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = 'image_vectors' AND column_name = 'embedding'"
    ).scalar()
    if not has_pgvector:
        return
    op.execute("ALTER TABLE faces ADD COLUMN embedding halfvec")
    _fill(bind)


def _fill(bind: Connection, batch: int = 1000) -> None:
    """Copy the descriptors stored before this revision into the new column."""
    update = text("UPDATE faces SET embedding = CAST(:embedding AS halfvec) WHERE seq = :seq")
    after = 0
    while rows := bind.execute(
        text(
            "SELECT seq, vector FROM faces WHERE seq > :after AND octet_length(vector) <= :most "
            "ORDER BY seq LIMIT :batch"
        ),
        {"after": after, "most": 4 * MAX_STORED_DIMS, "batch": batch},
    ).all():
        values = [
            {"seq": row.seq, "embedding": _text(np.frombuffer(row.vector, dtype="<f4"))}
            for row in rows
        ]
        bind.execute(update, values)
        after = rows[-1].seq


def _text(vector: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE faces DROP COLUMN IF EXISTS embedding")
