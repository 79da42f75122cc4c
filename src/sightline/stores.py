"""Every domain's store on one database, wired together: the image store keeps the search
indexes current in its own transactions, the migrations get the search documents' rebuild.

One database holds them all (SQLite or PostgreSQL, chosen by URL); each domain owns its store
and reaches another's data only through that domain's service.
"""

from __future__ import annotations

from dataclasses import dataclass

from sightline.backends import load_backend
from sightline.classifiers.features import index_entries
from sightline.classifiers.sql import SQLClassifierStore
from sightline.images.sql import SQLImageStore
from sightline.images.uploads import SQLUploadStore
from sightline.indexing import Indexer
from sightline.keys.sql import SQLKeyStore
from sightline.search.text import SQLTextSearch, rebuild_documents
from sightline.search.vector_store import SQLVectorStore
from sightline.storage.database import Database
from sightline.storage.migrate import upgrade
from sightline.storage.outbox import SQLEventLog
from sightline.webhooks.sql import SQLSubscriptionStore

# `postgresql+psycopg://` is looked up as `postgresql`; both go through psycopg 3
# (`storage/database.py`).
BACKENDS = {
    "sqlite": "sightline.stores:Stores",
    "postgresql": "sightline.stores:Stores",
}


def migrate(db: Database, revision: str = "head", indexer: Indexer = index_entries) -> None:
    """Bring the database's schema (and the data migrations' documents) to `revision`."""
    upgrade(db, rebuild_documents=lambda conn: rebuild_documents(conn, indexer), revision=revision)


@dataclass(frozen=True)
class Stores:
    db: Database
    images: SQLImageStore
    events: SQLEventLog
    text: SQLTextSearch
    vectors: SQLVectorStore
    uploads: SQLUploadStore
    classifiers: SQLClassifierStore
    subscriptions: SQLSubscriptionStore
    keys: SQLKeyStore

    @classmethod
    def on(cls, db: Database, indexer: Indexer = index_entries) -> Stores:
        """The stores of an already migrated database; `indexer` reads what each stored result
        declares for the search documents and the vectors (by default, what every bundled
        analyzer, user model and custom classifier declares)."""
        text = SQLTextSearch(db, indexer)
        vectors = SQLVectorStore(db, indexer)
        return cls(
            db=db,
            images=SQLImageStore(db, indexes=(text, vectors)),
            events=SQLEventLog(db),
            text=text,
            vectors=vectors,
            uploads=SQLUploadStore(db),
            classifiers=SQLClassifierStore(db, text),
            subscriptions=SQLSubscriptionStore(db),
            keys=SQLKeyStore(db),
        )

    @classmethod
    def from_url(cls, url: str, indexer: Indexer = index_entries) -> Stores:
        db = Database(url)
        migrate(db, indexer=indexer)
        return cls.on(db, indexer)

    def close(self) -> None:
        self.db.dispose()


def open_stores(url: str, indexer: Indexer = index_entries) -> Stores:
    """The stores of the database at `url`, migrated to the latest schema."""
    stores: Stores = load_backend("catalog", url, BACKENDS, indexer=indexer)
    return stores
