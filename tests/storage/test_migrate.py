"""Migrations on a fresh database: several processes starting at once upgrade it exactly once;
revisions that can be undone are; and on one holding data, the rows stay, in the shape the new
revision gives them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, bindparam, inspect, select, text

from sightline.classifiers.store import Example
from sightline.collection import DEFAULT_COLLECTION
from sightline.errors import CatalogSchemaBehind, ClassifierExists
from sightline.images.uploads import SQLUploadStore
from sightline.keys.sql import SIGNING_SECRET, SQLKeyStore
from sightline.search.pgvector import PgVectorSearch
from sightline.storage import tables as t
from sightline.storage.database import Database
from sightline.storage.migrate import SchemaChanges, alembic_config, schema_state
from sightline.storage.migrations.halfvec import MAX_STORED_DIMS
from sightline.stores import Stores, migrate, prepare_schema


def test_processes_starting_together_upgrade_a_fresh_database_once(empty_catalog_url: str) -> None:
    databases = [Database(empty_catalog_url) for _ in range(3)]
    start = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def start_up(db: Database) -> None:
        start.wait()
        try:
            migrate(db)
        except BaseException as exc:
            errors.append(exc)

    # Daemon threads: without the lock, upgrades can block each other for good.
    threads = [threading.Thread(target=start_up, args=(db,), daemon=True) for db in databases]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "the upgrades are stuck"
        assert errors == []
        head = ScriptDirectory.from_config(alembic_config(databases[0])).get_current_head()
        with databases[0].engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
    finally:
        for db in databases:
            db.dispose()


def test_the_access_control_revision_upgrades_and_downgrades(empty_catalog_url: str) -> None:
    db = Database(empty_catalog_url)
    try:
        migrate(db, revision="0007")
        assert not {"api_keys", "web_sessions"} & set(inspect(db.engine).get_table_names())
        migrate(db)
        assert {"api_keys", "web_sessions"} <= set(inspect(db.engine).get_table_names())
        keys = SQLKeyStore(db)
        secret = keys.signing_secret("generated once")
        assert keys.signing_secret("generated again") == secret
        with db.write() as conn:
            config = alembic_config(db)
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
        assert not {"api_keys", "web_sessions"} & set(inspect(db.engine).get_table_names())
        with db.read() as conn:
            assert (
                conn.scalar(
                    select(t.catalog_state.c.value).where(t.catalog_state.c.key == SIGNING_SECRET)
                )
                is None
            )
        migrate(db)
        assert SQLKeyStore(db).signing_secret("a new one") == "a new one"
    finally:
        db.dispose()


def test_collections_put_existing_rows_in_the_default_collection(empty_catalog_url: str) -> None:
    db = Database(empty_catalog_url)
    try:
        migrate(db, revision="0007")
        now = datetime.now(UTC)
        with db.write() as conn:
            for statement, values in BEFORE_COLLECTIONS:
                conn.execute(text(statement), {"now": now, **values})
        migrate(db)

        stores = Stores.on(db)
        image = stores.images.get_image("img_old")
        assert image is not None and image.collection == DEFAULT_COLLECTION
        classifier = stores.classifiers.by_name("shop", DEFAULT_COLLECTION)
        assert classifier is not None and classifier.collection == DEFAULT_COLLECTION
        # Rebuilding the classifiers table on SQLite kept what references it.
        assert classifier.label_counts == {"dress": 1}
        assert [version.number for version in stores.classifiers.versions("clf_old")] == [1]
        # Names are unique per collection now.
        stores.classifiers.create("clf_new", "shop", "multiclass", "", "beta")
        with pytest.raises(ClassifierExists):
            stores.classifiers.create("clf_dup", "shop", "multiclass", "", DEFAULT_COLLECTION)
        image_event, rebuild_event = (e.envelope for e in stores.events.events_after(0, 10))
        assert image_event["collection"] == DEFAULT_COLLECTION
        assert "collection" not in rebuild_event
        subscription = stores.subscriptions.get("sub_old")
        assert subscription is not None and subscription.collection is None
    finally:
        db.dispose()


def test_uploads_stored_before_settlement_are_unsettled_and_the_revision_undoes(
    empty_catalog_url: str,
) -> None:
    db = Database(empty_catalog_url)
    try:
        migrate(db, revision="0010")
        created = datetime(2026, 1, 1, tzinfo=UTC)
        with db.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO uploads (id, inbox_key, features, client_metadata, created_at, "
                    "expires_at, collection) VALUES ('img_old', 'k/a.png', '[]', '{}', :created, "
                    ":expires, 'default')"
                ),
                {"created": created, "expires": created + timedelta(minutes=15)},
            )
        migrate(db)
        uploads = SQLUploadStore(db)
        [old] = uploads.unsettled(datetime.now(UTC), None, 10)
        assert (old.id, old.settled_at, old.presigned) == ("img_old", None, True)
        uploads.settle("img_old", created + timedelta(hours=1))
        uploads.settle("img_old", created + timedelta(hours=2))  # the first time stays
        assert uploads.unsettled(datetime.now(UTC), None, 10) == []
        settled = uploads.get("img_old")
        assert settled is not None and settled.settled_at == created + timedelta(hours=1)
        with db.write() as conn:
            config = alembic_config(db)
            config.attributes["connection"] = conn
            command.downgrade(config, "0010")
        columns = {column["name"] for column in inspect(db.engine).get_columns("uploads")}
        assert "settled_at" not in columns
        migrate(db)
    finally:
        db.dispose()


def test_the_facade_state_revision_keeps_examples_widens_labels_and_undoes(
    empty_catalog_url: str,
) -> None:
    db = Database(empty_catalog_url)
    try:
        migrate(db, revision="0012")
        now = datetime.now(UTC)
        with db.write() as conn:
            for statement, values in BEFORE_COLLECTIONS[:3]:
                conn.execute(text(statement), {"now": now, **values})
        migrate(db)
        assert {"custom_vision_tags", "read_operations"} <= set(
            inspect(db.engine).get_table_names()
        )
        stores = Stores.on(db)
        long_label = "y" * 256
        stores.classifiers.add_examples(
            "clf_old", [Example("img_old", (long_label,))], single_label=False
        )
        widened = stores.classifiers.get("clf_old")
        assert widened is not None and widened.label_counts == {"dress": 1, long_label: 1}
        with db.write() as conn:
            config = alembic_config(db)
            config.attributes["connection"] = conn
            command.downgrade(config, "0012")
        assert not {"custom_vision_tags", "read_operations"} & set(
            inspect(db.engine).get_table_names()
        )
        # What the narrower column could not hold went with it; the rest stayed.
        narrowed = Stores.on(db).classifiers.get("clf_old")
        assert narrowed is not None and narrowed.label_counts == {"dress": 1}
        migrate(db)
    finally:
        db.dispose()


def test_the_pgvector_revision_copies_the_vectors_halfvec_can_hold(
    empty_catalog_url: str,
) -> None:
    db = Database(empty_catalog_url)
    vector = np.random.default_rng(6).standard_normal(1280).astype(np.float32)
    vector /= np.linalg.norm(vector)
    huge = np.ones(MAX_STORED_DIMS + 1, np.float32)
    try:
        migrate(db, revision="0005")
        image, values = BEFORE_COLLECTIONS[0]
        insert_vector = text(
            "INSERT INTO image_vectors (image_id, feature, version, dims, vector) "
            "VALUES ('img_old', :feature, '1', :dims, :vector)"
        )
        with db.write() as conn:
            conn.execute(text(image), {"now": datetime.now(UTC), **values})
            for feature, stored in (("embedding", vector), ("huge", huge)):
                conn.execute(
                    insert_vector,
                    {"feature": feature, "dims": stored.size, "vector": stored.tobytes()},
                )
        migrate(db)
        native = Stores.on(db).vectors.vector_search()
        if db.is_sqlite:
            assert native is None
            return
        assert isinstance(native, PgVectorSearch)
        [(image_id, score)] = native.nearest("embedding", "1", vector, 5)
        assert image_id == "img_old" and score == pytest.approx(1, abs=1e-3)
        with db.read() as conn:
            copied = conn.execute(
                text("SELECT feature, embedding IS NOT NULL FROM image_vectors ORDER BY feature")
            ).all()
        assert [tuple(row) for row in copied] == [("embedding", True), ("huge", False)]
    finally:
        db.dispose()


def test_the_face_pgvector_revision_fills_stored_faces_and_undoes(empty_catalog_url: str) -> None:
    db = Database(empty_catalog_url)
    descriptor = np.random.default_rng(3).standard_normal(1024).astype(np.float32)
    descriptor /= np.linalg.norm(descriptor)
    try:
        migrate(db, revision="0015")
        now = datetime.now(UTC)
        image, values = BEFORE_COLLECTIONS[0]
        with db.write() as conn:
            conn.execute(text(image), {"now": now, **values})
            conn.execute(
                text(
                    "INSERT INTO faces (id, image_id, feature, position, box, confidence, "
                    "version, vector, enrolled, created_at) VALUES ('face_old', 'img_old', "
                    "'face_embedding', 0, :box, 0.9, '1', :vector, false, :now)"
                ).bindparams(bindparam("box", type_=JSON)),
                {
                    "box": {"x": 1, "y": 2, "w": 30, "h": 40},
                    "vector": descriptor.astype("<f4").tobytes(),
                    "now": now,
                },
            )
        migrate(db)
        native = Stores.on(db).faces.vector_search()
        if db.is_sqlite:
            assert native is None
        else:
            assert isinstance(native, PgVectorSearch)
            [(face_id, score)] = native.nearest("face_embedding", "1", descriptor, 5)
            assert face_id == "face_old" and score == pytest.approx(1, abs=1e-3)
        with db.write() as conn:
            config = alembic_config(db)
            config.attributes["connection"] = conn
            command.downgrade(config, "0015")
        columns = {column["name"] for column in inspect(db.engine).get_columns("faces")}
        assert t.PGVECTOR_COLUMN not in columns
        migrate(db)
    finally:
        db.dispose()


# Rows as revision 0007 kept them: an image with a classifier's example, a trained version,
# an image event and a server event, and a subscription.
BEFORE_COLLECTIONS: list[tuple[str, dict[str, object]]] = [
    (
        "INSERT INTO images (id, sha256, filename, content_type, format, size, width, height, "
        "status, client_metadata, created_at, updated_at) VALUES ('img_old', :sha, 'a.png', "
        "'image/png', 'PNG', 1, 1, 1, 'done', '{}', :now, :now)",
        {"sha": "0" * 64},
    ),
    (
        "INSERT INTO classifiers (id, name, kind, description, run_on_upload, created_at, "
        "updated_at) VALUES ('clf_old', 'shop', 'multiclass', '', false, :now, :now)",
        {},
    ),
    (
        "INSERT INTO classifier_examples (classifier_id, image_id, label, created_at) "
        "VALUES ('clf_old', 'img_old', 'dress', :now)",
        {},
    ),
    (
        "INSERT INTO classifier_versions (classifier_id, number, status, threshold, labels, "
        "examples, example_count, embedding_version, created_at) VALUES ('clf_old', 1, "
        "'training', 0.5, '[]', '[]', 0, '1', :now)",
        {},
    ),
    (
        "INSERT INTO events (id, type, source, subject, time, data) VALUES ('e1', "
        "'sightline.image.created', '/sightline', 'images/img_old', :now, '{}')",
        {},
    ),
    (
        "INSERT INTO events (id, type, source, subject, time, data) VALUES ('e2', "
        "'sightline.index.rebuild_requested', '/sightline', 'indexes/embedding', :now, '{}')",
        {},
    ),
    (
        "INSERT INTO subscriptions (id, endpoint, event_types, data_filters, "
        "max_events_per_batch, max_attempts, event_ttl_minutes, paused, secret, start_seq, "
        "created_at, updated_at) VALUES ('sub_old', 'https://example.com/', '[]', '[]', 1, 1, "
        "1.0, false, 'whsec_0123456789abcdef', 0, :now, :now)",
        {},
    ),
]


def _stamp(db: Database, revision: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_schema_changes_are_made_only_where_allowed(empty_catalog_url: str) -> None:
    db = Database(empty_catalog_url)
    try:
        with pytest.raises(CatalogSchemaBehind, match="none \\(empty\\)"):
            prepare_schema(db, SchemaChanges.NONE)
        assert schema_state(db).current is None
        migrate(db, revision="0009")
        for changes in (SchemaChanges.NONE, SchemaChanges.CREATE):
            with pytest.raises(CatalogSchemaBehind, match="sightline migrate") as refused:
                prepare_schema(db, changes)
            assert refused.value.details == {"current": "0009", "needed": schema_state(db).head}
        assert schema_state(db).current == "0009"

        before = prepare_schema(db, SchemaChanges.UPGRADE)
        assert before.current == "0009" and schema_state(db).up_to_date
    finally:
        db.dispose()


def test_an_empty_catalog_is_created_where_creating_is_allowed(empty_catalog_url: str) -> None:
    db = Database(empty_catalog_url)
    try:
        assert prepare_schema(db, SchemaChanges.CREATE).current is None
        assert schema_state(db).up_to_date
    finally:
        db.dispose()


def test_a_newer_schema_is_used_as_it_is(empty_catalog_url: str) -> None:
    """Rolling updates: processes of the previous version run on the upgraded schema."""
    db = Database(empty_catalog_url)
    try:
        migrate(db)
        _stamp(db, "9999")
        for changes in SchemaChanges:
            state = prepare_schema(db, changes)
            assert state.newer and state.current == "9999"
        assert schema_state(db).current == "9999"
    finally:
        db.dispose()
