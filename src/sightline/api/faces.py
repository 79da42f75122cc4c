"""`/v1/faces`: faces across images, from the opt-in `face_embedding` feature. Search by a face
or a picture, list and delete faces, and review the clusters new faces are grouped into.

A face belongs to its image's collection and is only ever compared with that collection's
faces. People are `/v1/people` (`api/people.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.images import DECODE_ERRORS, READ_ERRORS, read_body, read_uploads
from sightline.api.openapi_examples import examples
from sightline.api.people import MAX_IDS, Cursor, Faces, Limit, PersonOut
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import RAW_IMAGE, RequestBody, files_or_json, one_of_sizes, parse_json
from sightline.api.scope import ReadCollection, WriteCollection
from sightline.errors import (
    BackendError,
    BlobNotFound,
    ClusterNotFound,
    FaceNotFound,
    InvalidJson,
    InvalidParameter,
    PayloadTooLarge,
    PersonNotFound,
    TooManyFiles,
)
from sightline.faces.service import FaceSearchResult
from sightline.faces.store import ClusterRecord, FaceQuery, FaceRecord
from sightline.faces.thumbnails import FACE_THUMBNAIL_SIZES, face_thumbnail
from sightline.vision.geometry import Box

router = APIRouter(prefix="/v1/faces", tags=["faces"], route_class=StrictJSONRoute)
MAX_JSON_BYTES = 64 * 1024
MaxDistance = Annotated[
    float | None,
    Query(
        gt=0,
        lt=2,
        description="The largest cosine distance a match may be at (0: the same descriptor, "
        "2: opposite); default: the server's `SIGHTLINE_FACE_MATCH_DISTANCE`.",
    ),
]


# -- shapes --------------------------------------------------------------------------------------


class FaceOut(BaseModel):
    model_config = examples(shown.FACE)

    id: str
    image_id: str
    collection: str
    box: Box = Field(description="Pixels of the image as analysed (upright).")
    confidence: float = Field(description="The face detector's.")
    cluster_id: str | None = Field(description="None until the face is grouped.")
    person_id: str | None
    enrolled: bool = Field(
        description="The person was said by a user; otherwise the face was matched to one."
    )
    version: str = Field(description="The `face_embedding` analyzer's that made it.")
    created_at: datetime

    @classmethod
    def of(cls, face: FaceRecord) -> FaceOut:
        return cls(
            id=face.id,
            image_id=face.image_id,
            collection=face.collection,
            box=Box(x=face.box.x, y=face.box.y, w=face.box.w, h=face.box.h),
            confidence=face.confidence,
            cluster_id=face.cluster_id,
            person_id=face.person_id,
            enrolled=face.enrolled,
            version=face.version,
            created_at=face.created_at,
        )


class FaceList(BaseModel):
    model_config = examples(shown.FACES)

    items: list[FaceOut]
    next_cursor: str | None


class FaceMatch(BaseModel):
    distance: float = Field(description="Cosine distance, nearest first.")
    face: FaceOut


class SearchedFace(BaseModel):
    box: Box = Field(description="The query face's: in the query picture, or as stored.")
    confidence: float
    matches: list[FaceMatch]


class FaceSearchIn(RequestBody):
    model_config = examples(shown.FACE_SEARCH_IN)

    face_id: str


class FaceSearchOut(BaseModel):
    model_config = examples(shown.FACE_SEARCH)

    max_distance: float = Field(description="The threshold the matches are within.")
    faces: list[SearchedFace] = Field(description="Each query face with its matches.")

    @classmethod
    def of(cls, max_distance: float, found: Sequence[FaceSearchResult]) -> FaceSearchOut:
        return cls(
            max_distance=max_distance,
            faces=[
                SearchedFace(
                    box=Box(**face.box),
                    confidence=face.confidence,
                    matches=[
                        FaceMatch(distance=match.distance, face=FaceOut.of(match.face))
                        for match in face.matches
                    ],
                )
                for face in found
            ],
        )


class ClusterOut(BaseModel):
    model_config = examples(shown.CLUSTER)

    id: str
    collection: str
    faces: int
    sample: list[str] = Field(description="A few of its faces' ids, best detected first.")
    person_id: str | None = Field(description="The person most of its faces are, if any.")

    @classmethod
    def of(cls, cluster: ClusterRecord) -> ClusterOut:
        return cls(
            id=cluster.id,
            collection=cluster.collection,
            faces=cluster.faces,
            sample=list(cluster.sample),
            person_id=cluster.person_id,
        )


class ClusterList(BaseModel):
    model_config = examples(shown.CLUSTERS)

    items: list[ClusterOut]
    next_cursor: str | None


class ClusterNameIn(RequestBody):
    model_config = examples(shown.CLUSTER_NAME)

    name: str | None = Field(None, description="A new person of this name…")
    person_id: str | None = Field(None, description="…or an existing person.")


class ClusterMergeIn(RequestBody):
    model_config = examples(shown.CLUSTER_MERGE)

    cluster_ids: list[str] = Field(min_length=1, max_length=MAX_IDS)


class ClusterSplitIn(RequestBody):
    model_config = examples(shown.CLUSTER_SPLIT)

    face_ids: list[str] = Field(min_length=1, max_length=MAX_IDS)


SEARCH_BODY = files_or_json(FaceSearchIn, "The picture whose faces to look for.")


def _page(items: Sequence[Any], limit: int, last_id: str | None) -> str | None:
    return last_id if len(items) == limit else None


# -- routes --------------------------------------------------------------------------------------


@router.post(
    "/search",
    response_model=FaceSearchOut,
    responses=documented(*READ_ERRORS, *DECODE_ERRORS, FaceNotFound, InvalidJson),
    openapi_extra=SEARCH_BODY,
    summary="Faces like these, across the collection's images",
    description='Send a picture (raw `image/*` or multipart), or JSON `{"face_id": "face_…"}` '
    "for a stored face. Each face of the picture (or the stored face) comes back with the "
    "collection's faces within `max_distance`, nearest first.",
)
async def search_faces(
    request: Request,
    faces: Faces,
    collection: WriteCollection,
    max_distance: MaxDistance = None,
    limit: Limit = 20,
) -> Any:
    threshold = faces.match_distance if max_distance is None else max_distance
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = parse_json(FaceSearchIn, await read_body(request, MAX_JSON_BYTES, PayloadTooLarge))
        found = await run_in_threadpool(
            lambda: [
                faces.search_by_face(
                    body.face_id, collection=collection, max_distance=threshold, limit=limit
                )
            ]
        )
        return FaceSearchOut.of(threshold, found)
    uploads, _fields, _metadata = await read_uploads(request, faces.images, max_files=1)
    if len(uploads) != 1:
        raise (TooManyFiles if uploads else InvalidParameter)(
            f"Send one image, not {len(uploads)}."
        )
    data = uploads[0].data
    results = await run_in_threadpool(
        lambda: faces.search_by_image(
            data, collection=collection, max_distance=threshold, limit=limit
        )
    )
    return FaceSearchOut.of(threshold, results)


@router.get("", response_model=FaceList, summary="Faces, in id order")
def list_faces(
    faces: Faces,
    collection: ReadCollection,
    image_id: str | None = None,
    person_id: str | None = None,
    cluster_id: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    found = faces.faces(
        FaceQuery(collection, image_id, person_id, cluster_id, after_id=cursor, limit=limit)
    )
    items = [FaceOut.of(face) for face in found]
    return FaceList(items=items, next_cursor=_page(found, limit, found[-1].id if found else None))


@router.get(
    "/clusters",
    response_model=ClusterList,
    summary="Clusters: faces taken for one unknown person",
    description="New faces are grouped as their analyses are stored: each joins the cluster "
    "of its nearest face within the match distance, or starts one.",
)
def list_clusters(
    faces: Faces, collection: ReadCollection, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    found = faces.clusters(collection=collection, after_id=cursor, limit=limit)
    return ClusterList(
        items=[ClusterOut.of(cluster) for cluster in found],
        next_cursor=_page(found, limit, found[-1].id if found else None),
    )


@router.get(
    "/clusters/{cluster_id}", response_model=ClusterOut, responses=documented(ClusterNotFound)
)
def get_cluster(cluster_id: str, faces: Faces, collection: ReadCollection) -> Any:
    return ClusterOut.of(faces.cluster(cluster_id, collection=collection))


@router.post(
    "/clusters/{cluster_id}/name",
    response_model=PersonOut,
    responses=documented(ClusterNotFound, PersonNotFound, InvalidParameter),
    summary="Say who a cluster is",
    description="Every face of the cluster is enrolled as the person: a new one named `name`, "
    "or the existing `person_id`. New faces like them are matched to the person.",
)
def name_cluster(
    cluster_id: str, body: ClusterNameIn, faces: Faces, collection: ReadCollection
) -> Any:
    if (body.name is None) == (body.person_id is None):
        raise InvalidParameter("Give a `name` or a `person_id`, not both.")
    person = faces.name_cluster(
        cluster_id, name=body.name, person_id=body.person_id, collection=collection
    )
    return PersonOut.of(person)


@router.post(
    "/clusters/{cluster_id}/merge",
    response_model=ClusterOut,
    responses=documented(ClusterNotFound),
    summary="Merge clusters into this one",
)
def merge_clusters(
    cluster_id: str, body: ClusterMergeIn, faces: Faces, collection: ReadCollection
) -> Any:
    return ClusterOut.of(faces.merge(cluster_id, body.cluster_ids, collection=collection))


@router.post(
    "/clusters/{cluster_id}/split",
    response_model=ClusterOut,
    responses=documented(ClusterNotFound, InvalidParameter),
    summary="Take faces out of a cluster into a new one",
    description='The faces are marked "not the same" as the cluster they leave: they are '
    "never grouped into it again. Answers the new cluster.",
)
def split_cluster(
    cluster_id: str, body: ClusterSplitIn, faces: Faces, collection: ReadCollection
) -> Any:
    return ClusterOut.of(faces.split(cluster_id, body.face_ids, collection=collection))


@router.get("/{face_id}", response_model=FaceOut, responses=documented(FaceNotFound))
def get_face(face_id: str, faces: Faces, collection: ReadCollection) -> Any:
    return FaceOut.of(faces.face(face_id, collection=collection))


@router.get(
    "/{face_id}/thumbnail",
    responses={
        200: {"content": {"image/webp": RAW_IMAGE}},
        **documented(FaceNotFound, InvalidParameter, BlobNotFound, BackendError),
    },
    response_class=Response,
    summary="The face as a small square WEBP picture",
    description="The face with a margin around it, cut from its image: at most `size` pixels "
    "a side, never enlarged. Made on request; the same for a face id while it exists.",
)
async def get_face_thumbnail(
    face_id: str,
    faces: Faces,
    collection: ReadCollection,
    size: Annotated[int, one_of_sizes(FACE_THUMBNAIL_SIZES, "pixels a side")] = 128,
) -> Response:
    data = await run_in_threadpool(face_thumbnail, faces, face_id, size, collection=collection)
    # A face's id never names another crop: a re-analysis keeps the id only for the same box.
    return Response(
        data,
        media_type="image/webp",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.post(
    "/{face_id}/not-the-same",
    response_model=FaceOut,
    responses=documented(FaceNotFound),
    summary="This face is not its cluster's person",
    description="The face leaves its cluster for one of its own and loses its person; it is "
    "never grouped with that cluster or matched to that person again.",
)
def not_the_same(face_id: str, faces: Faces, collection: ReadCollection) -> Any:
    return FaceOut.of(faces.not_the_same(face_id, collection=collection))


@router.delete(
    "/{face_id}",
    status_code=204,
    response_class=Response,
    responses=documented(FaceNotFound),
    summary="Delete a face's descriptor",
    description="The face goes from the catalog and the index, and its `vector` is emptied in "
    "the image's `face_embedding` result (its box stays).",
)
def delete_face(face_id: str, faces: Faces, collection: ReadCollection) -> Response:
    faces.delete_face(face_id, collection=collection)
    return Response(status_code=204)
