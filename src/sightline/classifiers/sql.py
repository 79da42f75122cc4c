"""Custom classifiers on SQLAlchemy Core, in the catalog's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sightline.classifiers.store import (
    CHANGE_MARK,
    ClassifierRecord,
    ClassifierVersion,
    Example,
    Published,
    VersionStatus,
    prediction_feature,
)
from sightline.errors import ClassifierExists
from sightline.storage import change_marks
from sightline.storage import tables as t
from sightline.storage.change_marks import ChangeMark
from sightline.storage.database import Database
from sightline.storage.records import JSON, ResultIndex
from sightline.storage.statements import insert_events, upsert

UPDATABLE = frozenset({"description", "run_on_upload", "published_version"})
# What uploads rely on (`run_on_upload`): changing it renews the classifiers' change mark.
UPLOAD_DEFAULTS = frozenset({"run_on_upload", "published_version"})


def _now() -> datetime:
    return datetime.now(UTC)


class SQLClassifierStore:
    def __init__(self, db: Database, documents: ResultIndex) -> None:
        self.db = db
        # Predictions are searchable words: the documents change with them.
        self._documents = documents

    # -- classifiers ---------------------------------------------------------------------------

    def create(
        self, classifier_id: str, name: str, kind: str, description: str, collection: str
    ) -> ClassifierRecord:
        now = _now()
        try:
            with self.db.write() as conn:
                conn.execute(
                    insert(t.classifiers).values(
                        id=classifier_id,
                        name=name,
                        kind=kind,
                        description=description,
                        published_version=None,
                        run_on_upload=False,
                        created_at=now,
                        updated_at=now,
                        collection=collection,
                    )
                )
                return self._load(conn, classifier_id)
        except IntegrityError as exc:
            raise ClassifierExists(
                f"A classifier named {name!r} exists in collection {collection!r}.", name=name
            ) from exc

    def get(self, classifier_id: str, collection: str | None = None) -> ClassifierRecord | None:
        with self.db.read() as conn:
            return self._load_optional(conn, classifier_id, collection)

    def by_name(self, name: str, collection: str) -> ClassifierRecord | None:
        columns = t.classifiers.c
        with self.db.read() as conn:
            found = conn.scalar(
                select(columns.id).where(columns.name == name, columns.collection == collection)
            )
            return None if found is None else self._load_optional(conn, found)

    def list_classifiers(self, collection: str | None = None) -> list[ClassifierRecord]:
        columns = t.classifiers.c
        statement = select(columns.id).order_by(columns.name, columns.collection)
        if collection is not None:
            statement = statement.where(columns.collection == collection)
        with self.db.read() as conn:
            ids = conn.scalars(statement).all()
            return [self._load(conn, classifier_id) for classifier_id in ids]

    def published(self, collection: str) -> dict[str, Published]:
        columns = t.classifiers.c
        with self.db.read() as conn:
            rows = conn.execute(
                select(columns.id, columns.name, columns.published_version, columns.run_on_upload)
                .where(columns.published_version.is_not(None), columns.collection == collection)
                .order_by(columns.name)
            ).all()
        return {
            row.name: Published(row.id, row.name, row.published_version, bool(row.run_on_upload))
            for row in rows
        }

    def run_on_upload(self, collection: str) -> tuple[list[str], ChangeMark]:
        columns = t.classifiers.c
        with self.db.read() as conn:
            mark = change_marks.current(conn, CHANGE_MARK)
            names = conn.scalars(
                select(columns.name)
                .where(
                    columns.published_version.is_not(None),
                    columns.run_on_upload,
                    columns.collection == collection,
                )
                .order_by(columns.name)
            ).all()
        return list(names), mark

    def update(self, classifier_id: str, **changes: Any) -> ClassifierRecord | None:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"Not updatable: {', '.join(sorted(unknown))}")
        with self.db.write() as conn:
            if UPLOAD_DEFAULTS.intersection(changes):
                change_marks.renew(conn, CHANGE_MARK)
            result = conn.execute(
                update(t.classifiers)
                .where(t.classifiers.c.id == classifier_id)
                .values(**changes, updated_at=_now())
            )
            return self._load(conn, classifier_id) if result.rowcount else None

    def delete(self, classifier_id: str) -> ClassifierRecord | None:
        with self.db.write() as conn:
            record = self._load_optional(conn, classifier_id)
            if record is None:
                return None
            change_marks.renew(conn, CHANGE_MARK)
            # Its predictions go with it: a label nobody can retrain must not stay searchable.
            # Only on its collection's images: another collection's classifier of the same
            # name made the others.
            results = t.feature_results.c
            predicted = and_(
                results.feature == prediction_feature(record.name),
                results.image_id.in_(
                    select(t.images.c.id).where(t.images.c.collection == record.collection)
                ),
            )
            image_ids = list(conn.scalars(select(t.feature_results.c.image_id).where(predicted)))
            conn.execute(delete(t.feature_results).where(predicted))
            if image_ids:  # their answers changed: kept ones must not be served (api.image_answers)
                conn.execute(
                    update(t.images).where(t.images.c.id.in_(image_ids)).values(updated_at=_now())
                )
            for image_id in image_ids:
                self._documents.refresh(conn, image_id, ())
            conn.execute(delete(t.classifiers).where(t.classifiers.c.id == classifier_id))
            return record

    # -- examples ------------------------------------------------------------------------------

    def add_examples(
        self, classifier_id: str, examples: Sequence[Example], *, single_label: bool
    ) -> list[bool]:
        now = _now()
        wanted = {example.image_id for example in examples}
        images = t.images.c
        with self.db.write() as conn:
            # Only images of the classifier's own collection can be its examples.
            collection = select(t.classifiers.c.collection).where(
                t.classifiers.c.id == classifier_id
            )
            existing = set(
                conn.scalars(
                    select(images.id).where(
                        images.id.in_(list(wanted)),
                        images.collection == collection.scalar_subquery(),
                    )
                )
            )
            for example in examples:
                if example.image_id not in existing:
                    continue
                if single_label:
                    conn.execute(
                        delete(t.classifier_examples).where(
                            t.classifier_examples.c.classifier_id == classifier_id,
                            t.classifier_examples.c.image_id == example.image_id,
                            t.classifier_examples.c.label.not_in(list(example.labels)),
                        )
                    )
                for label in example.labels:
                    upsert(
                        conn,
                        t.classifier_examples,
                        {
                            "classifier_id": classifier_id,
                            "image_id": example.image_id,
                            "label": label,
                            "created_at": now,
                        },
                        keys=("classifier_id", "image_id", "label"),
                    )
            conn.execute(
                update(t.classifiers)
                .where(t.classifiers.c.id == classifier_id)
                .values(updated_at=now)
            )
        return [example.image_id in existing for example in examples]

    def remove_examples(
        self, classifier_id: str, image_ids: Sequence[str], label: str | None
    ) -> int:
        examples = t.classifier_examples.c
        condition = [examples.classifier_id == classifier_id, examples.image_id.in_(image_ids)]
        if label is not None:
            condition.append(examples.label == label)
        with self.db.write() as conn:
            return int(conn.execute(delete(t.classifier_examples).where(*condition)).rowcount)

    def examples(
        self,
        classifier_id: str,
        *,
        label: str | None = None,
        after_image_id: str | None = None,
        limit: int | None = None,
    ) -> list[Example]:
        examples = t.classifier_examples.c
        images = select(examples.image_id).where(examples.classifier_id == classifier_id)
        if label is not None:
            images = images.where(examples.label == label)
        if after_image_id is not None:
            images = images.where(examples.image_id > after_image_id)
        images = images.distinct().order_by(examples.image_id)
        if limit is not None:
            images = images.limit(limit)
        with self.db.read() as conn:
            ids = conn.scalars(images).all()
            rows = conn.execute(
                select(examples.image_id, examples.label)
                .where(examples.classifier_id == classifier_id, examples.image_id.in_(ids))
                .order_by(examples.image_id, examples.label)
            ).all()
        labels: dict[str, list[str]] = {image_id: [] for image_id in ids}
        for row in rows:
            labels[row.image_id].append(row.label)
        return [Example(image_id, tuple(found)) for image_id, found in labels.items()]

    # -- versions ------------------------------------------------------------------------------

    def add_version(
        self,
        classifier_id: str,
        *,
        threshold: float,
        labels: Sequence[str],
        examples: Sequence[Example],
        embedding_version: str,
        event: JSON,
    ) -> ClassifierVersion:
        versions = t.classifier_versions.c
        with self.db.write() as conn:
            # The classifier row is the lock that serialises version numbers.
            conn.execute(
                select(t.classifiers.c.id)
                .where(t.classifiers.c.id == classifier_id)
                .with_for_update()
            )
            last = conn.scalar(
                select(func.coalesce(func.max(versions.number), 0)).where(
                    versions.classifier_id == classifier_id
                )
            )
            number = int(last or 0) + 1
            conn.execute(
                insert(t.classifier_versions).values(
                    classifier_id=classifier_id,
                    number=number,
                    status=str(VersionStatus.TRAINING),
                    threshold=threshold,
                    labels=list(labels),
                    examples=[[e.image_id, list(e.labels)] for e in examples],
                    example_count=len(examples),
                    embedding_version=embedding_version,
                    created_at=_now(),
                )
            )
            insert_events(conn, [_numbered(event, number)])
            return self._version(conn, classifier_id, number)

    def version(self, classifier_id: str, number: int) -> ClassifierVersion | None:
        with self.db.read() as conn:
            row = conn.execute(_version_query(classifier_id).where(_number(number))).first()
        return None if row is None else _version_record(row)

    def versions(self, classifier_id: str) -> list[ClassifierVersion]:
        with self.db.read() as conn:
            rows = conn.execute(
                _version_query(classifier_id).order_by(t.classifier_versions.c.number.desc())
            ).all()
        return [_version_record(row) for row in rows]

    def version_examples(self, classifier_id: str, number: int) -> list[Example]:
        versions = t.classifier_versions.c
        with self.db.read() as conn:
            stored = conn.scalar(
                select(versions.examples).where(
                    versions.classifier_id == classifier_id, _number(number)
                )
            )
        return [Example(image_id, tuple(labels)) for image_id, labels in stored or []]

    def finish_version(
        self,
        classifier_id: str,
        number: int,
        *,
        metrics: JSON | None,
        head: bytes | None,
        error: JSON | None,
        seconds: float,
        event: JSON,
    ) -> ClassifierVersion | None:
        versions = t.classifier_versions.c
        status = VersionStatus.FAILED if error is not None else VersionStatus.READY
        with self.db.write() as conn:
            result = conn.execute(
                update(t.classifier_versions)
                .where(
                    versions.classifier_id == classifier_id,
                    _number(number),
                    versions.status == str(VersionStatus.TRAINING),
                )
                .values(
                    status=str(status),
                    metrics=metrics,
                    head=head,
                    error=error,
                    seconds=seconds,
                    finished_at=_now(),
                )
            )
            if result.rowcount:
                insert_events(conn, [event])
            row = conn.execute(_version_query(classifier_id).where(_number(number))).first()
        return None if row is None else _version_record(row)

    # -- helpers -------------------------------------------------------------------------------

    def _load_optional(
        self, conn: Connection, classifier_id: str, collection: str | None = None
    ) -> ClassifierRecord | None:
        conditions = [t.classifiers.c.id == classifier_id]
        if collection is not None:
            conditions.append(t.classifiers.c.collection == collection)
        row = conn.execute(select(t.classifiers).where(*conditions)).first()
        if row is None:
            return None
        examples = t.classifier_examples.c
        counts = conn.execute(
            select(examples.label, func.count())
            .where(examples.classifier_id == classifier_id)
            .group_by(examples.label)
            .order_by(examples.label)
        ).all()
        images = conn.scalar(
            select(func.count(func.distinct(examples.image_id))).where(
                examples.classifier_id == classifier_id
            )
        )
        return ClassifierRecord(
            id=row.id,
            name=row.name,
            kind=row.kind,
            description=row.description,
            published_version=row.published_version,
            run_on_upload=bool(row.run_on_upload),
            created_at=row.created_at,
            updated_at=row.updated_at,
            label_counts={label: count for label, count in counts},
            example_count=int(images or 0),
            collection=row.collection,
        )

    def _load(self, conn: Connection, classifier_id: str) -> ClassifierRecord:
        record = self._load_optional(conn, classifier_id)
        assert record is not None, "loaded inside the transaction that wrote it"
        return record

    def _version(self, conn: Connection, classifier_id: str, number: int) -> ClassifierVersion:
        row = conn.execute(_version_query(classifier_id).where(_number(number))).one()
        return _version_record(row)


def _numbered(event: JSON, number: int) -> JSON:
    """The training request names its version, which only the insert knows."""
    return {**event, "data": {**event["data"], "version": number}}


def _number(number: int) -> Any:
    return t.classifier_versions.c.number == number


def _version_query(classifier_id: str) -> Any:
    """Everything but the copied examples, which only training reads."""
    columns = [column for column in t.classifier_versions.c if column.name != "examples"]
    return select(*columns).where(t.classifier_versions.c.classifier_id == classifier_id)


def _version_record(row: Row[Any]) -> ClassifierVersion:
    return ClassifierVersion(
        classifier_id=row.classifier_id,
        number=row.number,
        status=VersionStatus(row.status),
        threshold=row.threshold,
        labels=list(row.labels),
        example_count=row.example_count,
        embedding_version=row.embedding_version,
        metrics=row.metrics,
        head=row.head,
        error=row.error,
        seconds=row.seconds,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
