"""Every domain's store (and the cloud facades' state) on one database, wired together: the
image store keeps the search indexes current in its own transactions, the migrations get the
search documents' rebuild.

One database holds them all (SQLite or PostgreSQL, chosen by URL); each domain owns its store
and reaches another's data only through that domain's service.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sightline.backends import load_backend
from sightline.classifiers.features import index_entries
from sightline.classifiers.sql import SQLClassifierStore
from sightline.facades.azure_cv.reads import SQLReadOperations
from sightline.facades.custom_vision.tags import SQLTagStore
from sightline.faces.sql import SQLFaceStore
from sightline.images.sql import SQLImageStore
from sightline.images.uploads import SQLUploadStore
from sightline.indexing import Indexer
from sightline.keys.sql import SQLKeyStore
from sightline.models.imagenet_labels import LABELS_FILE, read_synonyms
from sightline.search.documents import with_synonyms
from sightline.search.text import SQLTextSearch, rebuild_documents
from sightline.search.vector_store import SQLVectorStore
from sightline.storage.database import Database
from sightline.storage.migrate import SchemaChanges, SchemaState, ensure_schema, upgrade
from sightline.storage.outbox import SQLEventLog
from sightline.vision.tags import MODEL as TAGS_MODEL
from sightline.webhooks.sql import SQLSubscriptionStore

# `postgresql+psycopg://` is looked up as `postgresql`; both go through psycopg 3
# (`storage/database.py`).
BACKENDS = {
    "sqlite": "sightline.stores:Stores",
    "postgresql": "sightline.stores:Stores",
}


def catalog_indexer(model_dir: Path) -> Indexer:
    """What every stored result adds to the indexes (`index_entries`), with the WordNet
    synonyms of tag words from the prepared tags model's labels. Without them (the model not
    prepared, or by a recipe before synonyms) tags are indexed as they are."""
    try:
        synonyms = read_synonyms(model_dir / TAGS_MODEL / LABELS_FILE)
    except (OSError, KeyError, ValueError):  # ValueError: not JSON either
        synonyms = {}
    return with_synonyms(index_entries, synonyms)


def migrate(db: Database, revision: str = "head", indexer: Indexer = index_entries) -> None:
    """Bring the database's schema (and the data migrations' documents) to `revision`."""
    upgrade(db, rebuild_documents=lambda conn: rebuild_documents(conn, indexer), revision=revision)


def prepare_schema(
    db: Database, changes: SchemaChanges, indexer: Indexer = index_entries
) -> SchemaState:
    """Check the schema before use, creating or upgrading it only as `changes` allows
    (`storage.migrate.ensure_schema`); answers the state found before any change."""
    return ensure_schema(
        db, changes, rebuild_documents=lambda conn: rebuild_documents(conn, indexer)
    )


@dataclass(frozen=True)
class Stores:
    db: Database
    images: SQLImageStore
    events: SQLEventLog
    text: SQLTextSearch
    vectors: SQLVectorStore
    faces: SQLFaceStore
    uploads: SQLUploadStore
    classifiers: SQLClassifierStore
    subscriptions: SQLSubscriptionStore
    keys: SQLKeyStore
    custom_vision_tags: SQLTagStore
    read_operations: SQLReadOperations

    @classmethod
    def on(cls, db: Database, indexer: Indexer = index_entries) -> Stores:
        """The stores of an already migrated database; `indexer` reads what each stored result
        declares for the search documents and the vectors (by default, what every bundled
        analyzer, user model and custom classifier declares)."""
        text = SQLTextSearch(db, indexer)
        vectors = SQLVectorStore(db, indexer)
        faces = SQLFaceStore(db, indexer)
        return cls(
            db=db,
            images=SQLImageStore(db, indexes=(text, vectors, faces)),
            events=SQLEventLog(db),
            text=text,
            vectors=vectors,
            faces=faces,
            uploads=SQLUploadStore(db),
            classifiers=SQLClassifierStore(db, text),
            subscriptions=SQLSubscriptionStore(db),
            keys=SQLKeyStore(db),
            custom_vision_tags=SQLTagStore(db),
            read_operations=SQLReadOperations(db),
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        indexer: Indexer = index_entries,
        schema: SchemaChanges = SchemaChanges.CREATE,
    ) -> Stores:
        db = Database(url)
        try:
            prepare_schema(db, schema, indexer)
        except BaseException:
            db.dispose()
            raise
        return cls.on(db, indexer)

    def close(self) -> None:
        self.db.dispose()


def open_stores(
    url: str, indexer: Indexer = index_entries, schema: SchemaChanges = SchemaChanges.CREATE
) -> Stores:
    """The stores of the database at `url`; its schema is created when empty, upgraded only
    when `schema` allows, and an older one is refused (`CatalogSchemaBehind`)."""
    stores: Stores = load_backend("catalog", url, BACKENDS, indexer=indexer, schema=schema)
    return stores
