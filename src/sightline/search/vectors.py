"""Nearest images by vector: the catalog database's own search where it has one, otherwise one
`VectorIndex` per space in this process, kept in step with the catalog.

A space is `(feature, version)`: vectors of two model versions never share an index. Within a
space each collection has an index of its own, so a search within a collection walks only its
images (a small collection is even compared exactly, see `vector_index.EXACT_SCAN_VALUES`), and
a search over every collection asks each index and keeps the best.

On PostgreSQL with pgvector the database answers (`search/pgvector.py`): every API
replica shares its HNSW indexes instead of each building one in memory, and nothing below
applies. Everywhere else (SQLite, PostgreSQL without the extension) this process keeps its own
index, as follows.

Catching up: every row of the catalog's `image_vectors` has a `seq` that grows with each write,
and re-analysing an image replaces its row with a new one (a new seq). A space remembers the
highest seq it has applied, its watermark, and before answering pulls the rows written since, a
page at a time. A vector's key in the index is its row's seq, so a replaced row re-keys its
image: the old key goes, the new one comes. An image never changes collection, so it stays in
its collection's index.

Deleted images: the catalog drops their rows, which nothing announces, so the index keeps them.
Callers check that the images found still exist and `forget` the ones that do not.

Snapshots: built from scratch, a space of 1M vectors takes minutes on two cores, so with a
folder each space is saved there (its indexes, key map, watermark) on `save`/`close` and after every
`AUTOSAVE_ROWS` changes; a restart loads it and pulls only the rows written since. Snapshots of
versions the catalog no longer holds are deleted on `save`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypedDict
from urllib.parse import quote

import numpy as np
import numpy.typing as npt

from sightline.search.vector_index import PROBES, VectorIndex
from sightline.search.vector_store import NearestVectors, StoredVector
from sightline.storage.records import Vector

log = logging.getLogger(__name__)

# Rows pulled and applied per step of a catch-up. Once a space has caught up, searches wait for
# at most one step, so it is kept to a second or so of inserting at 1M vectors. The first
# catch-up (a build from scratch, or from a snapshot on) takes bigger steps, as searches wait
# for all of it anyway, and fewer, larger steps spread over every core better.
PAGE = 2_000
FIRST_PAGE = 20_000
AUTOSAVE_ROWS = 100_000
SNAPSHOT_FORMAT = 3  # 1: one index per space, before collections; 2: usearch's HNSW files

Hit = tuple[str, float]  # (image id, cosine similarity)


class VectorSource(Protocol):
    """The part of the catalog that vector search reads."""

    def vectors_after(
        self, feature: str, version: str, after_seq: int, limit: int
    ) -> list[StoredVector]:
        """Vectors of one space written after `after_seq`, in seq order."""

    def vector_of(self, image_id: str, feature: str) -> tuple[str, Vector] | None:
        """The image's vector for this feature, with the version that made it."""

    def vector_versions(self, feature: str, collection: str | None = None) -> dict[str, int]:
        """How many images have a vector of this feature, per version."""

    def vector_search(self) -> NearestVectors | None:
        """The database's own nearest-neighbour search, if it has one."""


class _Meta(TypedDict):
    format: int
    feature: str
    version: str
    seq: int
    indexes: dict[str, str]  # collection -> its index's file name in the folder
    ids: str


@dataclass(eq=False)
class _Space:
    feature: str
    version: str
    # By collection, each created with the collection's first vector, which sets the dimensions.
    indexes: dict[str, VectorIndex] = field(default_factory=dict)
    seq: int = 0  # watermark: every row up to this seq is applied
    keys: dict[str, int] = field(default_factory=dict)  # image id -> key (its row's seq)
    images: dict[int, str] = field(default_factory=dict)  # key -> image id
    collections: dict[str, str] = field(default_factory=dict)  # image id -> its collection
    unsaved: int = 0  # changes since the snapshot
    ready: bool = False  # caught up at least once since this process started
    lock: threading.Lock = field(default_factory=threading.Lock)  # index and maps together
    syncing: threading.Lock = field(default_factory=threading.Lock)  # one catch-up at a time

    @property
    def name(self) -> str:
        """A file name for the space, without dots: snapshot files are `{name}.{generation}.*`."""
        return quote(f"{self.feature}@{self.version}", safe="").replace(".", "%2E")


class VectorSearch:
    def __init__(
        self, catalog: VectorSource, folder: Path | None = None, probes: int = PROBES
    ) -> None:
        self.catalog = catalog
        self.folder = folder
        self.probes = probes  # of its indexes (`VectorIndex`)
        self._native = catalog.vector_search()
        self._spaces: dict[tuple[str, str], _Space] = {}
        self._lock = threading.Lock()

    def nearest(
        self,
        feature: str,
        version: str,
        vector: npt.ArrayLike,
        k: int,
        exclude: Collection[str] = (),
        collection: str | None = None,
    ) -> list[Hit]:
        """Up to `k` images nearest to the vector in this space, most similar first; with
        `collection`, images of that collection only.

        Images deleted since they were indexed may be among them: drop them and `forget` them.
        """
        if self._native is not None:
            return self._native.nearest(
                feature, version, np.asarray(vector, dtype=np.float32), k, exclude, collection
            )
        space = self._caught_up(feature, version)
        with space.lock:
            if collection is None:
                indexes = list(space.indexes.values())
            else:
                indexes = [space.indexes[collection]] if collection in space.indexes else []
            # Excluded images that are indexed would take places in the answer: ask for more.
            extra = sum(1 for image_id in exclude if image_id in space.keys)
            hits = [
                (image_id, score)
                for index in indexes
                for key, score in index.search(vector, k + extra)
                if (image_id := space.images[key]) not in exclude
            ]
        return sorted(hits, key=lambda hit: -hit[1])[:k]

    def forget(self, feature: str, version: str, image_ids: Iterable[str]) -> None:
        """Remove these images (deleted from the catalog) from the space's index."""
        if self._native is not None:
            return  # the database's rows went with the images
        space = self._space(feature, version)
        with space.lock:
            for image_id in image_ids:
                key = space.keys.pop(image_id, None)
                if key is None:
                    continue
                del space.images[key]
                space.indexes[space.collections.pop(image_id)].remove([key])
                space.unsaved += 1

    def refresh(self, feature: str, version: str) -> int:
        """Catch the space up with the catalog now (e.g. at start-up, before the first search
        needs it); returns how many vectors it holds."""
        if self._native is not None:
            self._native.prepare(feature, version)
            return self.catalog.vector_versions(feature).get(version, 0)
        space = self._caught_up(feature, version)
        with space.lock:
            return len(space.keys)

    def save(self) -> None:
        """Snapshot every changed space to the folder; delete snapshots of versions that no
        longer have vectors in the catalog."""
        if self.folder is None or self._native is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            spaces = list(self._spaces.values())
        for space in spaces:
            with space.syncing:
                self._save(space)
        for meta_path in self.folder.glob("*.json"):
            meta = _read_meta(meta_path)
            if meta is not None and not self.catalog.vector_versions(meta["feature"]).get(
                meta["version"]
            ):
                _delete_snapshot(self.folder, meta_path.stem)

    def close(self) -> None:
        self.save()

    def drop(self) -> None:
        """Forget every space and delete every snapshot: after the catalog's rows went (a
        purge), nothing of them may stay in memory or on disk."""
        with self._lock:
            spaces = list(self._spaces.values())
            self._spaces.clear()
        for space in spaces:
            with space.syncing, space.lock:
                space.indexes.clear()
                space.keys.clear()
                space.images.clear()
                space.collections.clear()
        if self.folder is not None and self.folder.is_dir():
            for meta_path in self.folder.glob("*.json"):
                _delete_snapshot(self.folder, meta_path.stem)

    # -- catching up -----------------------------------------------------------------------

    def _space(self, feature: str, version: str) -> _Space:
        with self._lock:
            space = self._spaces.get((feature, version))
            if space is None:
                space = self._spaces[(feature, version)] = _Space(feature, version)
            return space

    def _caught_up(self, feature: str, version: str) -> _Space:
        space = self._space(feature, version)
        # Until its first catch-up a space knows nothing, so searches wait for it; after that a
        # search does not wait for another thread's catch-up but answers from what is indexed.
        if not space.syncing.acquire(blocking=not space.ready):
            return space
        try:
            if not space.ready:
                self._load(space)
            page = PAGE if space.ready else FIRST_PAGE
            while True:
                rows = self.catalog.vectors_after(feature, version, space.seq, page)
                if rows:
                    with space.lock:
                        _apply(space, rows, self.probes)
                if len(rows) < page:
                    break
            space.ready = True
            if space.unsaved >= AUTOSAVE_ROWS:
                self._save(space)
        finally:
            space.syncing.release()
        return space

    # -- snapshots (callers hold space.syncing) --------------------------------------------

    def _load(self, space: _Space) -> None:
        if self.folder is None:
            return
        meta_path = self.folder / f"{space.name}.json"
        meta = _read_meta(meta_path)
        if meta is None:
            return
        try:
            if (meta["feature"], meta["version"]) != (space.feature, space.version):
                raise ValueError(f"it holds {meta['feature']}@{meta['version']}")
            indexes = {}
            for collection, file_name in meta["indexes"].items():
                index = VectorIndex.load(self.folder / file_name, self.probes)
                if index is None:
                    raise ValueError(f"{file_name} is missing")
                indexes[collection] = index
            with np.load(self.folder / meta["ids"]) as arrays:
                keys = arrays["keys"].tolist()
                ids = arrays["ids"].astype(str).tolist()
                collections = arrays["collections"].astype(str).tolist()
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
            # A snapshot is a cache of the catalog: rebuilding from the catalog loses nothing.
            log.warning("Rebuilding the %s vector index: snapshot unreadable (%s)", space.name, exc)
            return
        space.indexes = indexes
        space.images = dict(zip(keys, ids, strict=True))
        space.keys = dict(zip(ids, keys, strict=True))
        space.collections = dict(zip(ids, collections, strict=True))
        space.seq = int(meta["seq"])
        log.info("Loaded the %s vector index: %d vectors", space.name, len(keys))

    def _save(self, space: _Space) -> None:
        if self.folder is None or not space.indexes or not space.unsaved:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        # New files under a fresh name, then the metadata naming them replaced in one rename:
        # a crash at any point leaves the previous snapshot or the new one, whole.
        generation = f"{space.name}.{secrets.token_hex(4)}"
        with space.lock:
            # Numbered, not named after the collection: file names stay plain whatever it is.
            files = {
                collection: f"{generation}.{number}.index"
                for number, collection in enumerate(sorted(space.indexes))
            }
            for collection, file_name in files.items():
                space.indexes[collection].save(self.folder / file_name)
            keys = np.fromiter(space.images.keys(), dtype=np.uint64, count=len(space.images))
            ids = list(space.images.values())
            np.savez(
                self.folder / f"{generation}.npz",
                keys=keys,
                ids=np.array(ids, dtype=np.bytes_),
                collections=np.array([space.collections[i] for i in ids], dtype=np.bytes_),
            )
            meta: _Meta = {
                "format": SNAPSHOT_FORMAT,
                "feature": space.feature,
                "version": space.version,
                "seq": space.seq,
                "indexes": files,
                "ids": f"{generation}.npz",
            }
            space.unsaved = 0
        staged = self.folder / f"{space.name}.json.tmp"
        staged.write_text(json.dumps(meta))
        os.replace(staged, self.folder / f"{space.name}.json")
        _delete_snapshot(self.folder, space.name, keep=generation)


def _apply(space: _Space, rows: Sequence[StoredVector], probes: int) -> None:
    """Index a page of rows, each in its collection's index; an image already indexed under an
    older row is re-keyed."""
    by_collection: dict[str, list[StoredVector]] = {}
    for row in rows:
        by_collection.setdefault(row.collection, []).append(row)
    for collection, found in by_collection.items():
        index = space.indexes.get(collection)
        if index is None:
            index = space.indexes[collection] = VectorIndex(len(found[0].vector), probes=probes)
        replaced = [space.keys[row.image_id] for row in found if row.image_id in space.keys]
        index.remove(replaced)
        for key in replaced:
            del space.images[key]
        index.upsert([row.seq for row in found], np.stack([row.vector for row in found]))
        for row in found:
            space.keys[row.image_id] = row.seq
            space.images[row.seq] = row.image_id
            space.collections[row.image_id] = collection
    space.seq = rows[-1].seq
    space.unsaved += len(rows)


def _read_meta(path: Path) -> _Meta | None:
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("Ignoring vector index snapshot %s: %s", path, exc)
        return None
    fields = {
        "format": int,
        "feature": str,
        "version": str,
        "seq": int,
        "indexes": dict,
        "ids": str,
    }
    if not (
        isinstance(meta, dict)
        and all(isinstance(meta.get(name), kind) for name, kind in fields.items())
        and meta["format"] == SNAPSHOT_FORMAT
    ):
        log.warning("Ignoring vector index snapshot %s: unknown format", path)
        return None
    known: _Meta = meta  # type: ignore[assignment]  # checked field by field above
    return known


def _delete_snapshot(folder: Path, name: str, keep: str | None = None) -> None:
    """Delete a space's snapshot files: all of them, or all but generation `keep` and the
    metadata (older generations and leftovers of an interrupted save)."""
    for path in folder.glob(f"{name}.*"):
        if keep is None or not (path.name.startswith(f"{keep}.") or path.name == f"{name}.json"):
            path.unlink(missing_ok=True)
