"""What the pgvector migrations share (0006 for `image_vectors`, 0016 for `faces`): copying the
float32 vectors a table stored before it had its `embedding halfvec` column into that column.
Frozen with them: a later migration that needs another copy writes its own."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, text

MAX_STORED_DIMS = 16_000  # halfvec's limit, as in `search.pgvector`; larger vectors stay out


def copy_to_halfvec(bind: Connection, table: str, batch: int = 1000) -> None:
    """Fill `table.embedding` from `table.vector` (little-endian float32), in `seq` order."""
    update = text(f"UPDATE {table} SET embedding = CAST(:embedding AS halfvec) WHERE seq = :seq")
    after = 0
    while rows := bind.execute(
        text(
            f"SELECT seq, vector FROM {table} WHERE seq > :after "
            "AND octet_length(vector) <= :most ORDER BY seq LIMIT :batch"
        ),
        {"after": after, "most": 4 * MAX_STORED_DIMS, "batch": batch},
    ).all():
        values = [
            {"seq": row.seq, "embedding": _literal(np.frombuffer(row.vector, dtype="<f4"))}
            for row in rows
        ]
        bind.execute(update, values)
        after = rows[-1].seq


def _literal(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"
