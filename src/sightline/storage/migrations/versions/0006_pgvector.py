"""pgvector on PostgreSQL, where the extension is installed: vectors also as `halfvec`.

Revision ID: 0006
Revises: 0005

The column is untyped (dimensions differ per feature); `search.pgvector` makes an HNSW
index per feature and size when first needed. Without the extension (or the right to create
it), nothing changes and vector search stays in process. Vectors already stored are copied in.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
from alembic import op
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

MAX_STORED_DIMS = 16_000  # halfvec's limit, as in `search.pgvector`


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.exec_driver_sql(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
    ).scalar()
    if not available:
        log.warning("pgvector is not installed: vector search runs in each process")
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except DBAPIError as exc:
        log.warning("Cannot create the pgvector extension (%s): vector search runs in process", exc)
        return
    op.execute("ALTER TABLE image_vectors ADD COLUMN embedding halfvec")
    _fill(bind)


def _fill(bind: Connection, batch: int = 1000) -> None:
    """Copy the vectors stored before this revision into the new column."""
    update = text(
        "UPDATE image_vectors SET embedding = CAST(:embedding AS halfvec) WHERE seq = :seq"
    )
    after = 0
    while rows := bind.execute(
        text(
            "SELECT seq, vector FROM image_vectors WHERE seq > :after AND dims <= :most "
            "ORDER BY seq LIMIT :batch"
        ),
        {"after": after, "most": MAX_STORED_DIMS, "batch": batch},
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
        op.execute("ALTER TABLE image_vectors DROP COLUMN IF EXISTS embedding")
