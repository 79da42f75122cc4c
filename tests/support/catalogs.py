"""The catalog databases that catalog and search tests run on: SQLite in the test's folder and
PostgreSQL (with pgvector) on the run's server, so every such test holds for both backends."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sightline import stores
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.vision.geometry import ModelInfo
from sightline.vision.vectors import EmbeddingResult
from support.services import Stack


def embedding(vector: Collection[float]) -> dict[str, Any]:
    """A whole `embedding` (or user clip model) result holding `vector`, as stored."""
    result = EmbeddingResult(
        model=ModelInfo(name="net", version="1"),
        width=1,
        height=1,
        dimensions=len(vector),
        vector=[float(value) for value in vector],
        normalized=True,
    )
    return result.model_dump(mode="json")


def migrate(url: str) -> None:
    db = Database(url)
    try:
        stores.migrate(db)
    finally:
        db.dispose()


def _database(
    request: pytest.FixtureRequest, tmp_path: Path, prepare: Callable[[str], None] | None
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    stack: Stack = request.getfixturevalue("services")
    url = stack.postgres.new_database(prepare=prepare)
    try:
        yield url
    finally:
        stack.postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated catalog database of each kind."""
    yield from _database(request, tmp_path, migrate)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each kind that no migration has touched yet."""
    yield from _database(request, tmp_path, None)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[stores.Stores]:
    """The stores of a fresh, migrated catalog of each kind."""
    opened = stores.open_stores(catalog_url)
    assert isinstance(opened, stores.Stores)
    yield opened
    opened.close()


def schema_differences(db: Database) -> list[Any]:
    """How the database's schema differs from the table definitions, leaving out what the
    migrations make by hand for one database (`tables.is_hand_made`)."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, _parent: not t.is_hand_made(name, type_),
            },
        )
        differences: list[Any] = compare_metadata(context, t.metadata)
        return differences
