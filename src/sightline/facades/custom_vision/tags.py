"""Custom Vision's tags, kept in the catalog beside the classifier whose labels they name.

A tag is a label of a classifier under a Custom Vision id (`ids.tag_id`, computed from the name,
so a label made through `/v1` gets the same id on every replica when it is adopted as a tag on
first listing). Keeping the tags lets a tag exist before it has images, and names up to 256
characters be named back by id. Deleting the classifier deletes its tags (a foreign key
cascades)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.engine import Row

from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.statements import upsert

c = t.custom_vision_tags.c


@dataclass(frozen=True)
class TagRecord:
    id: str
    classifier_id: str
    collection: str
    name: str
    description: str
    created_at: datetime


class TagStore(Protocol):
    """The tags of each classifier. Names are unique within a classifier."""

    def tags(self, classifier_id: str) -> list[TagRecord]:
        """The classifier's tags, oldest first."""
        ...

    def add(self, tags: Iterable[TagRecord]) -> None:
        """Keep `tags`; one whose name its classifier already has is left as it was."""
        ...

    def get(self, classifier_id: str, tag_id: str) -> TagRecord | None: ...

    def remove(self, classifier_id: str, tag_id: str) -> bool:
        """Forget a tag; False when there was none."""
        ...


def _tag_of(row: Row[Any]) -> TagRecord:
    return TagRecord(
        id=row.id,
        classifier_id=row.classifier_id,
        collection=row.collection,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
    )


class SQLTagStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def tags(self, classifier_id: str) -> list[TagRecord]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.custom_vision_tags)
                .where(c.classifier_id == classifier_id)
                .order_by(c.created_at, c.name)
            )
            return [_tag_of(row) for row in rows]

    def add(self, tags: Iterable[TagRecord]) -> None:
        with self.db.write() as conn:
            for tag in tags:
                upsert(conn, t.custom_vision_tags, vars(tag), keys=["classifier_id", "name"])

    def get(self, classifier_id: str, tag_id: str) -> TagRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(t.custom_vision_tags).where(c.classifier_id == classifier_id, c.id == tag_id)
            ).first()
            return None if row is None else _tag_of(row)

    def remove(self, classifier_id: str, tag_id: str) -> bool:
        with self.db.write() as conn:
            deleted = conn.execute(
                delete(t.custom_vision_tags).where(c.classifier_id == classifier_id, c.id == tag_id)
            )
            return deleted.rowcount > 0
