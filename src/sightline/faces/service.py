"""Use cases of faces across images: search, people, clusters, deletion. The API and the CLI
call these.

Faces come from the opt-in `face_embedding` feature (`vision/face_embedding.py`); the image
store writes them with the result (`faces/sql.py`). After an analysis stores some, `group_new`
puts each new face in the cluster of its nearest grouped face within the match distance (or a
new cluster of its own) and gives it that face's person: incremental, one nearest-neighbour
search per new face, never a recomputation of every cluster. A face is only ever compared
with faces of its own collection, and of the same analyzer version.

A person is enrolled from faces already stored, or from photos (`enrol_photos`): each stored as
an image of the person's collection and analysed in the request, its one face enrolled.

Deleting a face, a person (with its faces) or an image removes the descriptors from the
catalog, from the results they came from, and from this process's index; other processes'
indexes drop a deleted face when a search finds it, and on restart. With pgvector (PostgreSQL)
the database is the only index: a face leaves it with its row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sightline.errors import (
    ClusterNotFound,
    FaceNotFound,
    InvalidParameter,
    NoFaceDetected,
    PersonNotFound,
    SeveralFacesDetected,
    SightlineError,
)
from sightline.faces.sql import SQLFaceStore
from sightline.faces.store import (
    CLUSTER_PREFIX,
    PERSON_PREFIX,
    ClusterRecord,
    FaceQuery,
    FaceRecord,
    PersonRecord,
)
from sightline.ids import time_sorted_id
from sightline.images.service import ImageService, Upload, name_the_file
from sightline.search.vectors import VectorSearch
from sightline.storage.records import FeatureState, FeatureStatus, Vector

log = logging.getLogger(__name__)

FEATURE = "face_embedding"
# What an enrolment photo is analysed with: the detector's result is kept too, as an upload's is.
PHOTO_FEATURES = ("faces", FEATURE)
NEIGHBOURS = 8  # nearest faces a new face is compared with when grouped
# Lists of the face index's inverted file a search scans (`search.vector_index`): eight times an
# image search's, as a missed face is a person not found or a cluster split. At 100k synthetic
# faces (bench/face_search.py), recall of a face's other faces and p50 of a search: 8 lists 0.88 and
# 1.6 ms, 32: 0.97 and 2.6 ms, 64: 0.99 and 3.7 ms.
FACE_PROBES = 64
GROUP_BATCH = 200
MAX_NAME_LENGTH = 256


@dataclass(frozen=True)
class Match:
    face: FaceRecord
    distance: float  # cosine distance: 0 is the same descriptor


@dataclass(frozen=True)
class FaceSearchResult:
    box: dict[str, int]  # the query face's: in the query picture's pixels, or as stored
    confidence: float
    matches: list[Match]


@dataclass(frozen=True)
class PhotoEnrolment:
    person: PersonRecord  # as enrolled
    faces: list[FaceRecord]  # one a photo, in the photos' order


class FaceService:
    def __init__(
        self,
        store: SQLFaceStore,
        index: VectorSearch,
        images: ImageService,
        match_distance: float,
    ) -> None:
        self.store = store
        self.index = index  # a face id stands where `VectorSearch` names an image id
        self.images = images
        self.match_distance = match_distance
        self._purged = store.purge_mark()

    # -- search ----------------------------------------------------------------------------

    def search_by_face(
        self, face_id: str, *, collection: str | None, max_distance: float | None, limit: int
    ) -> FaceSearchResult:
        found = self.store.descriptor(face_id)
        if found is None or (collection is not None and found[0].collection != collection):
            raise FaceNotFound(f"No face with id {face_id!r}.")
        face, vector = found
        matches = self._nearest(
            vector, face.version, face.collection, max_distance, limit, exclude={face.id}
        )
        box = {"x": face.box.x, "y": face.box.y, "w": face.box.w, "h": face.box.h}
        return FaceSearchResult(box, face.confidence, matches)

    def search_by_image(
        self, data: bytes, *, collection: str, max_distance: float | None, limit: int
    ) -> list[FaceSearchResult]:
        """Every face of the picture (found as the `face_embedding` feature finds them), each
        with its matches among the collection's faces."""
        analysis = self.images.analyze_now(data, [FEATURE], collection=collection)
        outcome = analysis["features"][FEATURE]
        found = faces_read(outcome["status"], outcome["result"], outcome["error"])
        return [
            FaceSearchResult(
                face["box"],
                face["confidence"],
                self._nearest(
                    np.asarray(face["vector"], np.float32),
                    outcome["version"],
                    collection,
                    max_distance,
                    limit,
                ),
            )
            for face in found
        ]

    def _nearest(
        self,
        vector: npt.ArrayLike,
        version: str,
        collection: str,
        max_distance: float | None,
        limit: int,
        exclude: set[str] | None = None,
    ) -> list[Match]:
        threshold = self.match_distance if max_distance is None else max_distance
        self._drop_if_purged()
        hits = self.index.nearest(
            FEATURE, version, vector, limit, exclude=exclude or (), collection=collection
        )
        close = [(face_id, 1.0 - score) for face_id, score in hits if 1.0 - score <= threshold]
        records = self.store.faces_by_id([face_id for face_id, _ in close])
        gone = [face_id for face_id, _ in close if face_id not in records]
        if gone:
            self.index.forget(FEATURE, version, gone)
        return [
            Match(records[face_id], round(max(distance, 0.0), 4))
            for face_id, distance in close
            if face_id in records
        ]

    # -- faces -----------------------------------------------------------------------------

    def face(self, face_id: str, *, collection: str | None) -> FaceRecord:
        found = self.store.faces_by_id([face_id]).get(face_id)
        if found is None or (collection is not None and found.collection != collection):
            raise FaceNotFound(f"No face with id {face_id!r}.")
        return found

    def faces(self, query: FaceQuery) -> list[FaceRecord]:
        return self.store.faces(query)

    def delete_face(self, face_id: str, *, collection: str | None) -> None:
        self.face(face_id, collection=collection)
        self._forget(self.store.delete_faces([face_id]))

    def not_the_same(self, face_id: str, *, collection: str | None) -> FaceRecord:
        """The face is not the person of its cluster: it leaves the cluster for one of its own,
        loses a matched person, and is never grouped or matched with either again."""
        face = self.face(face_id, collection=collection)
        self.store.move([face.id], [new_cluster_id()], separate=True)
        self.store.unmatch(face.id)  # a person a user enrolled it as, too
        return self.face(face_id, collection=collection)

    def _forget(self, deleted: Sequence[FaceRecord]) -> None:
        by_version: dict[str, list[str]] = {}
        for face in deleted:
            by_version.setdefault(face.version, []).append(face.id)
        for version, face_ids in by_version.items():
            self.index.forget(FEATURE, version, face_ids)

    # -- grouping --------------------------------------------------------------------------

    def on_analysed(self, _image_id: str, outcomes: Sequence[FeatureState]) -> None:
        """After an analysis is stored: group the faces it added. A failure leaves them to the
        next grouping (the next analysis's, or the sweep's: see `app.py`): the analysis stands."""
        if any(o.feature == FEATURE and o.status is FeatureStatus.DONE for o in outcomes):
            try:
                self.group_new()
            except Exception:
                log.exception("Could not group new faces; the next grouping will.")

    def group_new(self) -> int:
        """Group every face not yet in a cluster (see the module docstring); answers how many."""
        grouped = 0
        while True:
            batch = self.store.ungrouped(GROUP_BATCH)
            for face, vector in batch:
                self._group(face, vector)
            grouped += len(batch)
            if len(batch) < GROUP_BATCH:
                return grouped

    def _group(self, face: FaceRecord, vector: Vector) -> None:
        separated = self.store.separated(face.id)
        neighbours = self._nearest(
            vector, face.version, face.collection, None, NEIGHBOURS, exclude={face.id}
        )
        cluster_id = next(
            (
                match.face.cluster_id
                for match in neighbours
                if match.face.cluster_id is not None and match.face.cluster_id not in separated
            ),
            None,
        )
        person_id = next(
            (
                match.face.person_id
                for match in neighbours
                if match.face.person_id is not None and match.face.person_id not in separated
            ),
            None,
        )
        self.store.group(face.id, cluster_id or new_cluster_id(), person_id)

    # -- clusters --------------------------------------------------------------------------

    def clusters(
        self, *, collection: str | None, after_id: str | None, limit: int
    ) -> list[ClusterRecord]:
        return self.store.clusters(collection, after_id, limit)

    def cluster(self, cluster_id: str, *, collection: str | None) -> ClusterRecord:
        found = self.store.cluster(cluster_id, collection)
        if found is None:
            raise ClusterNotFound(f"No cluster with id {cluster_id!r}.")
        return found

    def name_cluster(
        self, cluster_id: str, *, name: str | None, person_id: str | None, collection: str | None
    ) -> PersonRecord:
        """The cluster's faces are this person (an existing one, or a new one named `name`)."""
        cluster = self.cluster(cluster_id, collection=collection)
        faces = self.store.faces(
            FaceQuery(cluster.collection, cluster_id=cluster_id, limit=cluster.faces)
        )
        if person_id is not None:
            person = self.person(person_id, collection=cluster.collection)
        else:
            person = self.create_person(checked_name(name), [], collection=cluster.collection)
        self.store.enrol(person.id, [face.id for face in faces])
        return self.person(person.id, collection=cluster.collection)

    def merge(
        self, cluster_id: str, others: Sequence[str], *, collection: str | None
    ) -> ClusterRecord:
        target = self.cluster(cluster_id, collection=collection)
        for other in others:
            self.cluster(other, collection=target.collection)
        self.store.merge_clusters(
            target.id, [o for o in others if o != target.id], target.collection
        )
        return self.cluster(target.id, collection=collection)

    def split(
        self, cluster_id: str, face_ids: Sequence[str], *, collection: str | None
    ) -> ClusterRecord:
        """These faces of the cluster make a new cluster, marked "not the same" as the old."""
        cluster = self.cluster(cluster_id, collection=collection)
        faces = self.store.faces_by_id(face_ids)
        strays = [f for f in face_ids if f not in faces or faces[f].cluster_id != cluster.id]
        if strays or not face_ids:
            raise InvalidParameter(
                f"Not faces of cluster {cluster_id!r}: {', '.join(strays) or 'none given'}."
            )
        target = new_cluster_id()
        self.store.move(list(face_ids), [target] * len(face_ids), separate=True)
        return self.cluster(target, collection=collection)

    # -- people ----------------------------------------------------------------------------

    def create_person(
        self, name: str | None, face_ids: Sequence[str], *, collection: str
    ) -> PersonRecord:
        person_id = time_sorted_id(PERSON_PREFIX)
        self._check_faces(face_ids, collection)
        self.store.create_person(person_id, checked_name(name), collection)
        if face_ids:
            self.store.enrol(person_id, face_ids)
        return self.person(person_id, collection=collection)

    def person(self, person_id: str, *, collection: str | None) -> PersonRecord:
        found = self.store.person(person_id, collection)
        if found is None:
            raise PersonNotFound(f"No person with id {person_id!r}.")
        return found

    def people(
        self, *, collection: str | None, after_id: str | None, limit: int
    ) -> list[PersonRecord]:
        return self.store.people(collection, after_id, limit)

    def rename(self, person_id: str, name: str | None, *, collection: str | None) -> PersonRecord:
        self.person(person_id, collection=collection)
        renamed = self.store.rename_person(person_id, checked_name(name))
        if renamed is None:
            raise PersonNotFound(f"No person with id {person_id!r}.")
        return renamed

    def enrol(
        self, person_id: str, face_ids: Sequence[str], *, collection: str | None
    ) -> PersonRecord:
        person = self.person(person_id, collection=collection)
        self._check_faces(face_ids, person.collection)
        self.store.enrol(person.id, face_ids)
        return self.person(person_id, collection=collection)

    def enrol_photos(
        self, person_id: str, photos: Sequence[Upload], *, collection: str | None
    ) -> PhotoEnrolment:
        """Each photo becomes an image of the person's collection, analysed now with
        `face_embedding`, and its face is enrolled as the person; answers the person and those
        faces, in the photos' order. Every photo is analysed before any is stored: one in which
        the detector finds no face, or more than one (whose would be a guess), refuses them all,
        and nothing is stored."""
        person = self.person(person_id, collection=collection)
        self.images.check_file_count(len(photos), "photo")
        analysed = []
        for index, photo in enumerate(photos):
            try:
                found = self.images.analyse(photo, PHOTO_FEATURES, collection=person.collection)
                state = found.state(FEATURE)
                one_face(faces_read(state.status, state.result, state.error))
            except SightlineError as exc:
                name_the_file(exc, index, photo.filename, len(photos))
                raise
            analysed.append(found)
        stored: list[str] = []
        try:
            for found in analysed:
                stored.append(self.images.add_analysed(found, collection=person.collection).id)
            # Grouped before enrolled: grouping gives an ungrouped face its neighbours' person.
            self.group_new()
            face_ids = [self._face_of(image_id, person.collection) for image_id in stored]
            self.store.enrol(person.id, face_ids)
        except Exception:
            self.images.discard(stored)
            raise
        faces = self.store.faces_by_id(face_ids)
        return PhotoEnrolment(
            self.person(person.id, collection=collection),
            [faces[face_id] for face_id in face_ids if face_id in faces],
        )

    def _face_of(self, image_id: str, collection: str) -> str:
        (face,) = self.store.faces(FaceQuery(collection, image_id=image_id, limit=2))
        return face.id

    def person_images(
        self, person_id: str, *, collection: str | None, after_id: str | None, limit: int
    ) -> list[str]:
        self.person(person_id, collection=collection)
        return self.store.person_images(person_id, after_id, limit)

    def delete_person(self, person_id: str, *, collection: str | None) -> None:
        self.person(person_id, collection=collection)
        deleted = self.store.delete_person(person_id)
        if deleted is None:
            raise PersonNotFound(f"No person with id {person_id!r}.")
        self._forget(deleted)

    def _check_faces(self, face_ids: Sequence[str], collection: str) -> None:
        found = self.store.faces_by_id(face_ids)
        missing = [f for f in face_ids if f not in found or found[f].collection != collection]
        if missing:
            raise FaceNotFound(f"No face with id {', '.join(map(repr, missing))}.")

    # -- every face ------------------------------------------------------------------------

    def purge(self) -> tuple[int, int]:
        """`purge`, then this process knows it has nothing to drop again."""
        deleted = purge(self.store, self.index)
        self._purged = self.store.purge_mark()
        return deleted

    def _drop_if_purged(self) -> None:
        """A purge by any process (`sightline faces purge`) empties this process's index."""
        mark = self.store.purge_mark()
        if mark != self._purged:
            self.index.drop()
            self._purged = mark


def purge(store: SQLFaceStore, index: VectorSearch) -> tuple[int, int]:
    """Remove all biometric data: every face, person, mark and `face_embedding` result, and the
    face index with its snapshots (other processes drop theirs at their next search). Answers
    how many (faces, results) were deleted."""
    deleted = store.purge([FEATURE])
    index.drop()
    return deleted


def faces_read(
    status: str, result: dict[str, Any] | None, error: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The faces of a picture's `face_embedding` outcome, or why they could not be read."""
    if status != FeatureStatus.DONE or result is None:
        why = (error or {}).get("message") or (result or {}).get("reason") or str(status)
        raise InvalidParameter(f"The picture's faces could not be read: {why}")
    faces: list[dict[str, Any]] = result["faces"]
    return faces


def one_face(faces: Sequence[dict[str, Any]]) -> None:
    """An enrolment photo shows the person alone: with no face there is nothing to enrol, and
    with several, which one is the person would be a guess that corrupts every later match."""
    if not faces:
        raise NoFaceDetected("No face was found in the photo.", faces=0)
    if len(faces) > 1:
        raise SeveralFacesDetected(
            f"{len(faces)} faces were found in the photo: send one of the person alone, or "
            "enrol the person's face of a stored image by its id.",
            faces=len(faces),
            boxes=[face["box"] for face in faces],
        )


def new_cluster_id() -> str:
    return time_sorted_id(CLUSTER_PREFIX)


def checked_name(name: str | None) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"A person's name is 1-{MAX_NAME_LENGTH} characters.")
    return cleaned
