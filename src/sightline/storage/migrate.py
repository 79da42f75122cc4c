"""The catalog's schema: where it stands, and the Alembic migrations that bring it to this
version's, run from code by `sightline migrate`, `serve --migrate` and (where allowed) start-up.

Who may change the schema is explicit (`SchemaChanges`): in a rolling update, replicas of the
new version must not upgrade a shared catalog under the old ones; the operator runs
`sightline migrate` once. Migrations are additive within a release series (tables, columns and
indexes are added; nothing the previous release reads is dropped or renamed), so a process of
the previous version keeps working on a newer schema; only an older one is refused.

Three revisions rebuild the search documents of images analysed before them; what a document
holds is the search domain's business, so the caller hands that step in (`rebuild_documents`)
rather than the migrations reaching up into `search`."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from sightline.errors import CatalogSchemaBehind
from sightline.storage.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")
REBUILD_DOCUMENTS = "rebuild_documents"
DocumentRebuild = Callable[[Connection], object]


class SchemaChanges(enum.Enum):
    """What a process opening the catalog may do to its schema before using it."""

    NONE = "none"  # use it as it is; refuse an empty or older one
    CREATE = "create"  # create an empty catalog (nothing can be using it); refuse an older one
    UPGRADE = "upgrade"  # create or upgrade it to this version's schema


@dataclass(frozen=True)
class SchemaState:
    """The catalog's revision (None: no schema yet) and the newest this version knows."""

    current: str | None
    head: str
    known: frozenset[str]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        """Made by a later version: this one runs on it (migrations are additive)."""
        return self.current is not None and self.current not in self.known


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def schema_state(db: Database) -> SchemaState:
    script = ScriptDirectory.from_config(alembic_config(db))
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    known = frozenset(revision.revision for revision in script.walk_revisions())
    head = script.get_current_head()
    assert head is not None  # the chain is linear and never empty
    return SchemaState(current, head, known)


def ensure_schema(
    db: Database, changes: SchemaChanges, *, rebuild_documents: DocumentRebuild
) -> SchemaState:
    """Make sure this version can use the catalog, changing its schema only as `changes`
    allows; answers the state it found. Raises `CatalogSchemaBehind` (nothing changed) when
    the schema is older (or absent) and may not be brought up to date here."""
    state = schema_state(db)
    if state.up_to_date or state.newer:
        return state
    allowed = changes is SchemaChanges.UPGRADE or (
        changes is SchemaChanges.CREATE and state.current is None
    )
    if not allowed:
        raise CatalogSchemaBehind(
            f"The catalog's schema is at revision {state.current or 'none (empty)'}; this "
            f"version of Sightline needs {state.head}. Run `sightline migrate` (or "
            "`sightline serve --migrate`) with the same catalog settings first.",
            current=state.current,
            needed=state.head,
        )
    upgrade(db, rebuild_documents=rebuild_documents)
    return state


def upgrade(db: Database, *, rebuild_documents: DocumentRebuild, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call from several processes at once."""
    config = alembic_config(db)
    config.attributes[REBUILD_DOCUMENTS] = rebuild_documents
    with db.write(schema_change=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7316455)")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
