"""Images, their feature results and blob references on SQLAlchemy Core, for SQLite and
PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from sightline.errors import BackendError
from sightline.events import EventType, cloud_event, image_subject
from sightline.images.store import (
    ORIGINAL_ROLE,
    BlobUse,
    ImageOrder,
    ImageQuery,
    ImageVersion,
)
from sightline.indexing import hamming_distance
from sightline.storage import change_marks
from sightline.storage import tables as t
from sightline.storage.change_marks import ChangeMark
from sightline.storage.database import Database
from sightline.storage.group_commit import GroupCommit
from sightline.storage.records import (
    JSON,
    BlobKeeper,
    BlobRef,
    FeatureState,
    FeatureStatus,
    ImageRecord,
    ImageStatus,
    NewImage,
    ResultIndex,
    image_status,
)
from sightline.storage.statements import chunks, insert_events, upsert

PHASH_BANDS = 8
PAGE = 500
LOCK_BLOB = (
    select(t.blobs.c.sha256).where(t.blobs.c.sha256 == bindparam("sha256")).with_for_update()
)
# The collection's first image of these bytes, which a new copy is a duplicate of. Within the
# collection only: a link to another collection's copy would tell this one that the other
# holds the file.
FIRST_COPY = (
    select(t.images.c.id)
    .where(
        t.images.c.sha256 == bindparam("sha256"),
        t.images.c.collection == bindparam("collection"),
    )
    .order_by(t.images.c.id)
    .limit(1)
)

# An image joined to its results (one round trip instead of two), and an image's version: built
# once, each with and without the collection's condition, so that a read by id is bound, not
# built, compiled and keyed anew (a third of its CPU at a million images).
_RESULTS = t.feature_results.c
_IMAGE_WITH_RESULTS = (
    select(
        t.images,
        _RESULTS.feature,
        _RESULTS.status.label("feature_status"),
        _RESULTS.analyzer,
        _RESULTS.version,
        _RESULTS.result,
        _RESULTS.error,
        _RESULTS.updated_at.label("feature_updated_at"),
    )
    .select_from(t.images.outerjoin(t.feature_results, _RESULTS.image_id == t.images.c.id))
    .where(t.images.c.id == bindparam("image_id"))
    .order_by(_RESULTS.feature)
)
_IMAGE_VERSION = select(t.images.c.updated_at, t.images.c.status).where(
    t.images.c.id == bindparam("image_id")
)
_IN_COLLECTION = t.images.c.collection == bindparam("collection")
ByCollection = dict[bool, Select[Any]]  # whether a collection is given -> the statement
IMAGE_WITH_RESULTS: ByCollection = {
    False: _IMAGE_WITH_RESULTS,
    True: _IMAGE_WITH_RESULTS.where(_IN_COLLECTION),
}
IMAGE_VERSION: ByCollection = {False: _IMAGE_VERSION, True: _IMAGE_VERSION.where(_IN_COLLECTION)}


def _by_id(
    statements: ByCollection, image_id: str, collection: str | None
) -> tuple[Select[Any], dict[str, str]]:
    """The statement of this image, within `collection` if given, and its values."""
    values = {"image_id": image_id}
    if collection is not None:
        values["collection"] = collection
    return statements[collection is not None], values


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewImages:
    """One `add_images` call: written together or not at all."""

    images: Sequence[NewImage]
    events: Sequence[JSON]
    keeper: BlobKeeper
    as_of: ChangeMark | None


class SQLImageStore:
    """The `ImageStore` on one database. `indexes` are kept current in the same transactions as
    the results they are derived from (the search documents, the vectors)."""

    def __init__(self, db: Database, indexes: Sequence[ResultIndex] = ()) -> None:
        self.db = db
        self._indexes = tuple(indexes)
        # SQLite has one writer: concurrent uploads are committed in groups (group_commit.py).
        # PostgreSQL takes them concurrently, each locking its blob rows in one global order,
        # which a group of uploads in one transaction would no longer keep.
        self._grouped_additions = GroupCommit(db, self._add_images) if db.is_sqlite else None

    def add_images(
        self,
        images: Sequence[NewImage],
        events: Sequence[JSON],
        keeper: BlobKeeper,
        *,
        as_of: ChangeMark | None = None,
    ) -> list[ImageRecord]:
        addition = NewImages(images, events, keeper, as_of)
        if self._grouped_additions is not None:
            return self._grouped_additions.submit(addition)
        with self.db.write() as conn:
            return self._add_images(conn, [addition])[0]

    def _add_images(
        self, conn: Connection, additions: Sequence[NewImages]
    ) -> list[list[ImageRecord]]:
        """Write `additions` as if one after the other, with one statement for all their rows
        of a table where it can."""
        for mark in {addition.as_of for addition in additions if addition.as_of is not None}:
            change_marks.check(conn, mark)
        now = _now()
        # Lock blob rows in one global order so concurrent batches cannot deadlock.
        for sha256 in sorted({image.sha256 for addition in additions for image in addition.images}):
            self._lock_blob(conn, sha256, create=True)
        for addition in additions:
            for sha256 in {image.sha256 for image in addition.images}:
                addition.keeper.ensure(sha256)
        # The first image of the same bytes in the same collection, by id, as each image is
        # written: what FIRST_COPY would read at that point.
        first_copies: dict[tuple[str, str], str | None] = {}
        records: list[list[ImageRecord]] = []
        for addition in additions:
            written = []
            for image in addition.images:
                copy = (image.sha256, image.collection)
                if copy not in first_copies:
                    first_copies[copy] = conn.scalar(
                        FIRST_COPY, {"sha256": image.sha256, "collection": image.collection}
                    )
                duplicate_of = first_copies[copy]
                written.append(_new_record(image, duplicate_of, now))
                first_copies[copy] = min(image.id, duplicate_of or image.id)
            records.append(written)
        images = [image for addition in additions for image in addition.images]
        # Values bound as parameters: statements compiled once, from SQLAlchemy's cache.
        conn.execute(insert(t.images), [_image_row(r) for written in records for r in written])
        results = [_feature_row(image.id, f, now) for image in images for f in image.features]
        if results:
            conn.execute(insert(t.feature_results), results)
        conn.execute(
            insert(t.blob_refs),
            [
                {"sha256": image.sha256, "image_id": image.id, "role": ORIGINAL_ROLE}
                for image in images
            ],
        )
        for index in self._indexes:
            index.added(conn, [(image.id, image.filename) for image in images])
        insert_events(conn, [event for addition in additions for event in addition.events])
        # What was written, as reading it back would give it: no queries for it.
        return records

    def get_image(self, image_id: str, collection: str | None = None) -> ImageRecord | None:
        with self.db.read() as conn:
            return self._load_optional(conn, image_id, collection)

    def image_version(self, image_id: str, collection: str | None = None) -> ImageVersion | None:
        with self.db.read() as conn:
            row = conn.execute(*_by_id(IMAGE_VERSION, image_id, collection)).first()
        return None if row is None else ImageVersion(row.updated_at, ImageStatus(row.status))

    def get_images(
        self, image_ids: Sequence[str], collection: str | None = None
    ) -> dict[str, ImageRecord]:
        found: dict[str, ImageRecord] = {}
        with self.db.read() as conn:
            for chunk in chunks(image_ids):
                rows = conn.execute(
                    select(t.images).where(t.images.c.id.in_(chunk), *_in(collection))
                ).all()
                features = self._features(conn, [row.id for row in rows])
                found.update({row.id: _record(row, features.get(row.id, {})) for row in rows})
        return found

    def list_images(self, query: ImageQuery) -> list[ImageRecord]:
        conditions = _filters(query)
        newest = query.order is ImageOrder.NEWEST
        if query.after_id is not None:
            past = t.images.c.id < query.after_id if newest else t.images.c.id > query.after_id
            conditions.append(past)
        order = t.images.c.id.desc() if newest else t.images.c.id.asc()
        statement = (
            select(t.images).where(and_(True, *conditions)).order_by(order).limit(query.limit)
        )
        with self.db.read() as conn:
            rows = conn.execute(statement).all()
            features = self._features(conn, [row.id for row in rows])
        return [_record(row, features.get(row.id, {})) for row in rows]

    def count_images(self, query: ImageQuery) -> int:
        statement = select(func.count()).select_from(t.images).where(and_(True, *_filters(query)))
        with self.db.read() as conn:
            return int(conn.execute(statement).scalar_one())

    def image_ids_after(
        self, after_image_id: str, limit: int, collection: str | None = None
    ) -> list[str]:
        with self.db.read() as conn:
            return list(
                conn.scalars(
                    select(t.images.c.id)
                    .where(t.images.c.id > after_image_id, *_in(collection))
                    .order_by(t.images.c.id)
                    .limit(limit)
                )
            )

    def delete_image(self, image_id: str, event: JSON, keeper: BlobKeeper) -> ImageRecord | None:
        with self.db.write() as conn:
            # The image first, then its blobs, as finish_features does: the same order in every
            # transaction, so a deletion racing a worker's results cannot deadlock with it.
            if not self._lock_image(conn, image_id):
                return None
            record = self._load(conn, image_id)
            shas = self._referenced_blobs(conn, image_id)
            conn.execute(delete(t.blob_refs).where(t.blob_refs.c.image_id == image_id))
            conn.execute(delete(t.images).where(t.images.c.id == image_id))
            insert_events(conn, [event])
        # Only once the deletion is committed: a transaction failing after it had deleted the
        # bytes from the store would leave a catalogued image without them.
        self.release_blobs(shas, keeper)
        return record

    def request_features(
        self, image_id: str, features: Sequence[FeatureState], event: JSON
    ) -> ImageRecord | None:
        now = _now()
        with self.db.write() as conn:
            if not self._lock_image(conn, image_id):
                return None
            # The last result stays readable until the new one replaces it.
            self._upsert_features(conn, image_id, features, now, keep_result=True)
            self._refresh_status(conn, image_id, now)
            insert_events(conn, [event])
            return self._load(conn, image_id)

    def start_features(self, image_id: str, features: Sequence[str]) -> ImageRecord | None:
        now = _now()
        with self.db.write() as conn:
            if not self._lock_image(conn, image_id):
                return None
            conn.execute(
                update(t.feature_results)
                .where(
                    t.feature_results.c.image_id == image_id,
                    t.feature_results.c.feature.in_(list(features)),
                )
                .values(status=str(FeatureStatus.RUNNING), updated_at=now)
            )
            self._refresh_status(conn, image_id, now)
            return self._load(conn, image_id)

    def finish_features(
        self,
        image_id: str,
        outcomes: Sequence[FeatureState],
        blob_refs: Sequence[BlobRef],
        keeper: BlobKeeper,
        completion_event_id: str,
        phash: str | None = None,
    ) -> ImageRecord | None:
        now = _now()
        new_shas = sorted({ref.sha256 for ref in blob_refs})
        record: ImageRecord | None = None
        # Deleted meanwhile, the blobs written for the image must not linger unreferenced.
        unreferenced = new_shas
        with self.db.write() as conn:
            if self._lock_image(conn, image_id):
                self._upsert_features(conn, image_id, outcomes, now, keep_result=False)
                unreferenced = self._replace_derived_refs(
                    conn, image_id, outcomes, blob_refs, keeper
                )
                if phash is not None:
                    self._index_phash(conn, image_id, phash)
                status = self._refresh_status(conn, image_id, now)
                # Rows with a seq last, after the blob work (see statements.hold_seq_order).
                self._refresh_indexes(conn, image_id, outcomes)
                if status in (ImageStatus.DONE, ImageStatus.FAILED):
                    self._emit_completion(conn, image_id, status, completion_event_id)
                record = self._load(conn, image_id)
        # After the commit, as in delete_image.
        self.release_blobs(unreferenced, keeper)
        return record

    def release_blobs(self, shas: Sequence[str], keeper: BlobKeeper) -> list[str]:
        """Delete the blobs no image references any more, each under its row lock so that an
        upload of the same bytes either finds the row gone and writes the bytes again, or keeps
        the blob. A crash in between leaves an unreferenced blob, never a missing one; two
        releases racing may both delete the bytes, which is harmless."""
        if not shas:
            return []
        with self.db.write() as conn:
            for sha256 in sorted(set(shas)):
                # Created if missing: an upload inserting the same row waits for this one.
                self._lock_blob(conn, sha256, create=True)
            return self._discard_unreferenced(conn, sorted(set(shas)), keeper)

    # -- audit -------------------------------------------------------------------------------

    def referenced_blobs(self, after_sha256: str, limit: int) -> list[str]:
        with self.db.read() as conn:
            return list(
                conn.scalars(
                    select(t.blob_refs.c.sha256)
                    .where(t.blob_refs.c.sha256 > after_sha256)
                    .distinct()
                    .order_by(t.blob_refs.c.sha256)
                    .limit(limit)
                )
            )

    def blob_uses(self, shas: Sequence[str]) -> list[BlobUse]:
        uses: list[BlobUse] = []
        with self.db.read() as conn:
            for chunk in chunks(sorted(set(shas))):
                rows = conn.execute(
                    select(t.blob_refs)
                    .where(t.blob_refs.c.sha256.in_(chunk))
                    .order_by(t.blob_refs.c.sha256, t.blob_refs.c.image_id, t.blob_refs.c.role)
                )
                uses.extend(BlobUse(row.sha256, row.image_id, row.role) for row in rows)
        return uses

    def unreferenced_blob_rows(
        self, created_before: datetime, after_sha256: str, limit: int
    ) -> list[str]:
        referenced = select(t.blob_refs.c.sha256).where(t.blob_refs.c.sha256 == t.blobs.c.sha256)
        with self.db.read() as conn:
            return list(
                conn.scalars(
                    select(t.blobs.c.sha256)
                    .where(
                        t.blobs.c.sha256 > after_sha256,
                        t.blobs.c.created_at < created_before,
                        ~referenced.exists(),
                    )
                    .order_by(t.blobs.c.sha256)
                    .limit(limit)
                )
            )

    def stranded_features(self) -> Iterator[tuple[str, list[str]]]:
        # A first pass over everything unfinished, then a check of the suspects in snapshots:
        # reading each page's events by subject would scan every unfinished event per page.
        asked = self._asked_features(None)
        suspects = []
        after = ""
        while page := self._unfinished_images(after, PAGE):
            after = page[-1]
            for image_id, features in self._unended_features(page).items():
                if set(features) - asked.get(image_id, set()):
                    suspects.append(image_id)
        for chunk in chunks(suspects):
            with self.db.snapshot() as conn:
                unended = self._unended_features(chunk, conn)
                asked = self._asked_features(chunk, conn)
            for image_id in chunk:
                stranded = [
                    name
                    for name in unended.get(image_id, [])
                    if name not in asked.get(image_id, set())
                ]
                if stranded:
                    yield image_id, stranded

    def _unfinished_images(self, after_image_id: str, limit: int) -> list[str]:
        """Images with a pending or running feature, by their features' own states rather than
        the image's status, which is derived from them."""
        unended = [str(FeatureStatus.PENDING), str(FeatureStatus.RUNNING)]
        column = t.feature_results.c.image_id
        with self.db.read() as conn:
            return list(
                conn.scalars(
                    select(column)
                    .where(t.feature_results.c.status.in_(unended), column > after_image_id)
                    .distinct()
                    .order_by(column)
                    .limit(limit)
                )
            )

    def _unended_features(
        self, image_ids: Sequence[str], conn: Connection | None = None
    ) -> dict[str, list[str]]:
        unended = [str(FeatureStatus.PENDING), str(FeatureStatus.RUNNING)]
        statement = (
            select(t.feature_results.c.image_id, t.feature_results.c.feature)
            .where(
                t.feature_results.c.image_id.in_(list(image_ids)),
                t.feature_results.c.status.in_(unended),
            )
            .order_by(t.feature_results.c.image_id, t.feature_results.c.feature)
        )
        found: dict[str, list[str]] = {}
        with _reading(self.db, conn) as reader:
            for row in reader.execute(statement):
                found.setdefault(row.image_id, []).append(row.feature)
        return found

    def _asked_features(
        self, image_ids: Sequence[str] | None, conn: Connection | None = None
    ) -> dict[str, set[str]]:
        """The features unfinished analysis events ask for, by image: of these images, or of
        every image (read in pages by seq)."""
        types = [str(EventType.IMAGE_CREATED), str(EventType.IMAGE_REPROCESS_REQUESTED)]
        where = [t.events.c.finished_at.is_(None), t.events.c.type.in_(types)]
        if image_ids is not None:
            where.append(t.events.c.subject.in_([image_subject(id_) for id_ in image_ids]))
        asked: dict[str, set[str]] = {}
        after = 0
        with _reading(self.db, conn) as reader:
            while rows := reader.execute(
                select(t.events.c.seq, t.events.c.data)
                .where(*where, t.events.c.seq > after)
                .order_by(t.events.c.seq)
                .limit(PAGE)
            ).all():
                after = rows[-1].seq
                for row in rows:
                    asked.setdefault(row.data["id"], set()).update(row.data.get("features", []))
        return asked

    def near_duplicates(
        self, image_id: str, max_distance: int, collection: str | None = None
    ) -> list[tuple[str, int]]:
        if not 0 <= max_distance < PHASH_BANDS:
            raise ValueError(f"max_distance must be within 0..{PHASH_BANDS - 1}")
        with self.db.read() as conn:
            phash = conn.scalar(
                select(t.image_phashes.c.phash).where(t.image_phashes.c.image_id == image_id)
            )
            if phash is None:
                return []
            band_match = or_(
                *(
                    and_(t.phash_bands.c.band == band, t.phash_bands.c.value == value)
                    for band, value in enumerate(_bands(phash))
                )
            )
            candidates = conn.execute(
                select(t.image_phashes.c.image_id, t.image_phashes.c.phash)
                .join(t.images, t.images.c.id == t.image_phashes.c.image_id)
                .where(
                    t.image_phashes.c.image_id.in_(
                        select(t.phash_bands.c.image_id).where(band_match).distinct()
                    ),
                    t.image_phashes.c.image_id != image_id,
                    *_in(collection),
                )
            ).all()
        matches = [(row.image_id, hamming_distance(phash, row.phash)) for row in candidates]
        return sorted(
            (match for match in matches if match[1] <= max_distance),
            key=lambda match: (match[1], match[0]),
        )

    def status_counts(self) -> dict[ImageStatus, int]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.images.c.status, func.count()).group_by(t.images.c.status)
            ).all()
        counts = dict.fromkeys(ImageStatus, 0)
        counts.update({ImageStatus(status): count for status, count in rows})
        return counts

    # -- helpers -----------------------------------------------------------------------------

    def _upsert_features(
        self,
        conn: Connection,
        image_id: str,
        states: Sequence[FeatureState],
        now: datetime,
        *,
        keep_result: bool,
    ) -> None:
        columns = ("status", "analyzer", "version", "error", "updated_at")
        for state in states:
            upsert(
                conn,
                t.feature_results,
                _feature_row(image_id, state, now),
                keys=("image_id", "feature"),
                update=columns if keep_result else (*columns, "result"),
            )

    def _refresh_indexes(
        self, conn: Connection, image_id: str, changed: Sequence[FeatureState]
    ) -> None:
        for index in self._indexes:
            index.refresh(conn, image_id, changed)

    def _lock_blob(self, conn: Connection, sha256: str, *, create: bool = False) -> None:
        if create:
            upsert(conn, t.blobs, {"sha256": sha256, "created_at": _now()}, keys=["sha256"])
        # SQLite has no row locks: a write transaction holds the whole database already.
        if not self.db.is_sqlite:
            conn.execute(LOCK_BLOB, {"sha256": sha256})

    def _lock_image(self, conn: Connection, image_id: str) -> bool:
        found = conn.scalar(
            select(t.images.c.id).where(t.images.c.id == image_id).with_for_update()
        )
        return found is not None

    def _referenced_blobs(self, conn: Connection, image_id: str) -> list[str]:
        return sorted(
            set(
                conn.scalars(select(t.blob_refs.c.sha256).where(t.blob_refs.c.image_id == image_id))
            )
        )

    def _discard_unreferenced(
        self, conn: Connection, shas: Iterable[str], keeper: BlobKeeper
    ) -> list[str]:
        discarded = []
        for sha256 in shas:
            still_used = conn.scalar(
                select(func.count()).select_from(t.blob_refs).where(t.blob_refs.c.sha256 == sha256)
            )
            if not still_used:
                conn.execute(delete(t.blobs).where(t.blobs.c.sha256 == sha256))
                keeper.discard(sha256)
                discarded.append(sha256)
        return discarded

    def _replace_derived_refs(
        self,
        conn: Connection,
        image_id: str,
        outcomes: Sequence[FeatureState],
        blob_refs: Sequence[BlobRef],
        keeper: BlobKeeper,
    ) -> list[str]:
        """Swap the derived blobs of the finished features; returns shas that lost a reference."""
        prefixes = [f"{outcome.feature}:" for outcome in outcomes]
        if not prefixes:
            return []
        owned = or_(
            *(t.blob_refs.c.role.startswith(prefix, autoescape=True) for prefix in prefixes)
        )
        where = and_(t.blob_refs.c.image_id == image_id, owned)
        old_shas = set(conn.scalars(select(t.blob_refs.c.sha256).where(where)))
        new_shas = {ref.sha256 for ref in blob_refs}
        for sha256 in sorted(old_shas | new_shas):
            self._lock_blob(conn, sha256, create=sha256 in new_shas)
        for sha256 in sorted(new_shas):
            keeper.ensure(sha256)
        conn.execute(delete(t.blob_refs).where(where))
        if blob_refs:
            conn.execute(
                insert(t.blob_refs),
                [
                    {"sha256": ref.sha256, "image_id": image_id, "role": ref.role}
                    for ref in {(ref.sha256, ref.role): ref for ref in blob_refs}.values()
                ],
            )
        return sorted(old_shas - new_shas)

    def _index_phash(self, conn: Connection, image_id: str, phash: str) -> None:
        upsert(
            conn,
            t.image_phashes,
            {"image_id": image_id, "phash": phash},
            keys=["image_id"],
            update=["phash"],
        )
        conn.execute(delete(t.phash_bands).where(t.phash_bands.c.image_id == image_id))
        conn.execute(
            insert(t.phash_bands),
            [
                {"band": band, "value": value, "image_id": image_id}
                for band, value in enumerate(_bands(phash))
            ],
        )

    def _refresh_status(self, conn: Connection, image_id: str, now: datetime) -> ImageStatus:
        states = conn.scalars(
            select(t.feature_results.c.status).where(t.feature_results.c.image_id == image_id)
        ).all()
        status = image_status([FeatureStatus(state) for state in states])
        conn.execute(
            update(t.images)
            .where(t.images.c.id == image_id)
            .values(status=str(status), updated_at=now)
        )
        return status

    def _emit_completion(
        self, conn: Connection, image_id: str, status: ImageStatus, event_id: str
    ) -> None:
        features = self._features(conn, [image_id]).get(image_id, {})
        image = conn.execute(
            select(t.images.c.filename, t.images.c.client_metadata, t.images.c.collection).where(
                t.images.c.id == image_id
            )
        ).one()
        # The file name and metadata ride along, so subscribers can filter on them.
        data: JSON = {
            "id": image_id,
            "status": str(status),
            "features": {name: str(state.status) for name, state in features.items()},
            "filename": image.filename,
            "metadata": image.client_metadata,
        }
        errors = {name: state.error for name, state in features.items() if state.error}
        if errors:
            data["errors"] = errors
        event_type = (
            EventType.IMAGE_ANALYZED if status is ImageStatus.DONE else EventType.IMAGE_FAILED
        )
        event = cloud_event(
            event_type, image_id, data, collection=image.collection, event_id=event_id
        )
        insert_events(conn, [event])

    def _features(
        self, conn: Connection, image_ids: Sequence[str]
    ) -> dict[str, dict[str, FeatureState]]:
        if not image_ids:
            return {}
        rows = conn.execute(
            select(t.feature_results)
            .where(t.feature_results.c.image_id.in_(list(image_ids)))
            .order_by(t.feature_results.c.feature)
        ).all()
        grouped: dict[str, dict[str, FeatureState]] = {}
        for row in rows:
            grouped.setdefault(row.image_id, {})[row.feature] = _feature_state(
                row, row.status, row.updated_at
            )
        return grouped

    def _load_optional(
        self, conn: Connection, image_id: str, collection: str | None = None
    ) -> ImageRecord | None:
        rows = conn.execute(*_by_id(IMAGE_WITH_RESULTS, image_id, collection)).all()
        if not rows:
            return None
        features = {
            row.feature: _feature_state(row, row.feature_status, row.feature_updated_at)
            for row in rows
            if row.feature is not None
        }
        return _record(rows[0], features)

    def _load(self, conn: Connection, image_id: str) -> ImageRecord:
        record = self._load_optional(conn, image_id)
        if record is None:
            raise BackendError(f"Image {image_id} vanished inside its own transaction.")
        return record


@contextmanager
def _reading(db: Database, conn: Connection | None) -> Iterator[Connection]:
    """`conn` when the caller holds a transaction, else a read transaction of its own."""
    if conn is not None:
        yield conn
        return
    with db.read() as own:
        yield own


def _new_record(image: NewImage, duplicate_of: str | None, now: datetime) -> ImageRecord:
    """The record of an image as `add_images` writes it (features in name order, as read)."""
    features = sorted(image.features, key=lambda state: state.feature)
    return ImageRecord(
        id=image.id,
        sha256=image.sha256,
        filename=image.filename,
        content_type=image.content_type,
        format=image.format,
        size=image.size,
        width=image.width,
        height=image.height,
        status=image_status([f.status for f in image.features]),
        client_metadata=image.client_metadata,
        duplicate_of=duplicate_of,
        created_at=now,
        updated_at=now,
        features={f.feature: replace(f, updated_at=now) for f in features},
        collection=image.collection,
    )


def _feature_state(row: Row[Any], status: str, updated_at: datetime) -> FeatureState:
    """A result row as a FeatureState; `status` and `updated_at` are passed because a row
    joined to its image names them apart from the image's own."""
    return FeatureState(
        feature=row.feature,
        status=FeatureStatus(status),
        analyzer=row.analyzer,
        version=row.version,
        result=row.result,
        error=row.error,
        updated_at=updated_at,
    )


def _image_row(record: ImageRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "sha256": record.sha256,
        "filename": record.filename,
        "content_type": record.content_type,
        "format": record.format,
        "size": record.size,
        "width": record.width,
        "height": record.height,
        "status": str(record.status),
        "client_metadata": record.client_metadata,
        "duplicate_of": record.duplicate_of,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "collection": record.collection,
    }


def _feature_row(image_id: str, feature: FeatureState, now: datetime) -> dict[str, Any]:
    return {
        "image_id": image_id,
        "feature": feature.feature,
        "status": str(feature.status),
        "analyzer": feature.analyzer,
        "version": feature.version,
        "result": feature.result,
        "error": feature.error,
        "updated_at": now,
    }


def _record(row: Row[Any], features: dict[str, FeatureState]) -> ImageRecord:
    return ImageRecord(
        id=row.id,
        sha256=row.sha256,
        filename=row.filename,
        content_type=row.content_type,
        format=row.format,
        size=row.size,
        width=row.width,
        height=row.height,
        status=ImageStatus(row.status),
        client_metadata=row.client_metadata,
        duplicate_of=row.duplicate_of,
        created_at=row.created_at,
        updated_at=row.updated_at,
        features=features,
        collection=row.collection,
    )


def _in(collection: str | None) -> list[Any]:
    """The condition on `images` of a read within `collection` (none for every collection)."""
    return [] if collection is None else [t.images.c.collection == collection]


def _filters(query: ImageQuery) -> list[Any]:
    """The conditions on `images` of a listing's filters (not of its page)."""
    conditions = _in(query.collection)
    if query.status is not None:
        conditions.append(t.images.c.status == str(query.status))
    if query.content_type is not None:
        conditions.append(t.images.c.content_type == query.content_type)
    if query.uploaded_after is not None:
        conditions.append(t.images.c.created_at > query.uploaded_after)
    if query.uploaded_before is not None:
        conditions.append(t.images.c.created_at < query.uploaded_before)
    if query.sha256 is not None:
        conditions.append(t.images.c.sha256 == query.sha256)
    return conditions


def _bands(phash: str) -> list[int]:
    value = int(phash, 16)
    return [(value >> (8 * band)) & 0xFF for band in range(PHASH_BANDS)]
