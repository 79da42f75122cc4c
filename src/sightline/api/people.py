"""`/v1/people`: who faces are. A person belongs to a collection and is made of the faces enrolled
as it (from face ids, from photos, or by naming a cluster: `api/faces.py`); new faces like them
are matched to it as their analyses are stored. Deleting a person deletes its faces'
descriptors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.images import DECODE_ERRORS, READ_ERRORS, read_uploads
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import ImageOut, ImageView, RequestBody, image_files, image_view
from sightline.api.scope import ReadCollection, WriteCollection
from sightline.errors import (
    BackendError,
    FaceNotFound,
    InsufficientStorage,
    InvalidParameter,
    NoFaceDetected,
    PersonNotFound,
    SeveralFacesDetected,
)
from sightline.faces.service import MAX_NAME_LENGTH, FaceService
from sightline.faces.store import FaceRecord, PersonRecord
from sightline.vision.geometry import Box

router = APIRouter(prefix="/v1/people", tags=["faces"], route_class=StrictJSONRoute)
# Shared with `api/faces.py`.
Faces = Annotated[FaceService, deps.part("faces")]
MAX_IDS = 1000
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


class PersonIn(RequestBody):
    model_config = examples(shown.PERSON_IN)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    face_ids: list[str] = Field(
        default_factory=list,
        max_length=MAX_IDS,
        description="Faces that are this person; their clusters' other faces are matched.",
    )


class PersonPatch(RequestBody):
    model_config = examples(shown.PERSON_PATCH)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)


class PersonFacesIn(RequestBody):
    model_config = examples(shown.PERSON_FACES)

    face_ids: list[str] = Field(min_length=1, max_length=MAX_IDS)


class PersonOut(BaseModel):
    model_config = examples(shown.PERSON)

    id: str
    collection: str
    name: str
    faces: int = Field(description="Faces known as the person, enrolled or matched.")
    images: int = Field(description="Images with at least one of them.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, person: PersonRecord) -> PersonOut:
        return cls(
            id=person.id,
            collection=person.collection,
            name=person.name,
            faces=person.faces,
            images=person.images,
            created_at=person.created_at,
            updated_at=person.updated_at,
        )


class EnrolledFace(BaseModel):
    id: str = Field(description="The face, enrolled as the person.")
    image_id: str = Field(description="Its photo, stored as an image of the collection.")
    box: Box = Field(description="Pixels of the photo as analysed (upright).")
    confidence: float = Field(description="The face detector's.")

    @classmethod
    def of(cls, face: FaceRecord) -> EnrolledFace:
        return cls(
            id=face.id,
            image_id=face.image_id,
            box=Box(x=face.box.x, y=face.box.y, w=face.box.w, h=face.box.h),
            confidence=face.confidence,
        )


class PersonPhotosOut(BaseModel):
    model_config = examples(shown.PERSON_PHOTOS)

    person: PersonOut
    faces: list[EnrolledFace] = Field(description="The face of each photo, in the order sent.")


PHOTOS_BODY = image_files("One or more photos, each of the person alone (any field name).")


class PersonList(BaseModel):
    model_config = examples(shown.PEOPLE)

    items: list[PersonOut]
    next_cursor: str | None


class PersonImages(BaseModel):
    model_config = examples(shown.PERSON_IMAGES)

    items: list[ImageOut] = Field(description="Newest first.")
    next_cursor: str | None


@router.post(
    "",
    status_code=201,
    response_model=PersonOut,
    responses=documented(FaceNotFound, InvalidParameter),
    summary="A person, enrolled from faces",
)
def create_person(
    body: PersonIn, faces: Faces, response: Response, collection: WriteCollection
) -> Any:
    person = faces.create_person(body.name, body.face_ids, collection=collection)
    response.headers["Location"] = f"/v1/people/{person.id}"
    return PersonOut.of(person)


@router.get("", response_model=PersonList, summary="People, in id order")
def list_people(
    faces: Faces, collection: ReadCollection, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    found = faces.people(collection=collection, after_id=cursor, limit=limit)
    return PersonList(
        items=[PersonOut.of(person) for person in found],
        next_cursor=found[-1].id if len(found) == limit else None,
    )


@router.get("/{person_id}", response_model=PersonOut, responses=documented(PersonNotFound))
def get_person(person_id: str, faces: Faces, collection: ReadCollection) -> Any:
    return PersonOut.of(faces.person(person_id, collection=collection))


@router.patch(
    "/{person_id}",
    response_model=PersonOut,
    responses=documented(PersonNotFound, InvalidParameter),
    summary="Rename a person",
)
def rename_person(
    person_id: str, body: PersonPatch, faces: Faces, collection: ReadCollection
) -> Any:
    return PersonOut.of(faces.rename(person_id, body.name, collection=collection))


@router.post(
    "/{person_id}/faces",
    response_model=PersonOut,
    responses=documented(PersonNotFound, FaceNotFound),
    summary="Enrol more faces as the person",
)
def enrol_faces(
    person_id: str, body: PersonFacesIn, faces: Faces, collection: ReadCollection
) -> Any:
    return PersonOut.of(faces.enrol(person_id, body.face_ids, collection=collection))


@router.post(
    "/{person_id}/photos",
    status_code=201,
    response_model=PersonPhotosOut,
    responses=documented(
        PersonNotFound,
        *READ_ERRORS,
        *DECODE_ERRORS,
        NoFaceDetected,
        SeveralFacesDetected,
        InsufficientStorage,
        BackendError,
    ),
    openapi_extra=PHOTOS_BODY,
    summary="Enrol the person from photos",
    description="Send one or more photos (multipart, or one as raw `image/*` bytes), each of the "
    "person alone. Each is stored as an image of the person's collection, analysed at once "
    "with `faces,face_embedding`, and its face enrolled as the person. Every photo is analysed "
    "before any is stored: a photo with no face (`NoFaceDetected`) or several "
    "(`SeveralFacesDetected`, with their boxes: enrol the right one by face id instead) refuses "
    "the request, and nothing is stored.",
)
async def enrol_photos(
    person_id: str, request: Request, faces: Faces, collection: ReadCollection
) -> Any:
    # An unknown person is refused before any photo is read or analysed.
    await run_in_threadpool(faces.person, person_id, collection=collection)
    photos, fields, metadata = await read_uploads(request, faces.images)
    if fields or metadata is not None:
        raise InvalidParameter("Enrolment photos take no `features` or `metadata`.")
    enrolment = await run_in_threadpool(
        lambda: faces.enrol_photos(person_id, photos, collection=collection)
    )
    return PersonPhotosOut(
        person=PersonOut.of(enrolment.person),
        faces=[EnrolledFace.of(face) for face in enrolment.faces],
    )


@router.get(
    "/{person_id}/images",
    response_model=PersonImages,
    responses=documented(PersonNotFound, InvalidParameter),
    summary="The images a person is in",
)
def person_images(
    person_id: str,
    faces: Faces,
    collection: ReadCollection,
    view: Annotated[ImageView, Depends(image_view)],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    image_ids = faces.person_images(person_id, collection=collection, after_id=cursor, limit=limit)
    # An image deleted meanwhile took its faces with it: it is left out.
    records = faces.images.store.get_images(image_ids, collection)
    return PersonImages(
        items=[ImageOut.of(records[i], view) for i in image_ids if i in records],
        next_cursor=image_ids[-1] if len(image_ids) == limit else None,
    )


@router.delete(
    "/{person_id}",
    status_code=204,
    response_class=Response,
    responses=documented(PersonNotFound),
    summary="Delete a person and its faces' descriptors",
    description="The faces known as the person go from the catalog and the index, and their "
    "`vector` is emptied in their images' `face_embedding` results.",
)
def delete_person(person_id: str, faces: Faces, collection: ReadCollection) -> Response:
    faces.delete_person(person_id, collection=collection)
    return Response(status_code=204)
