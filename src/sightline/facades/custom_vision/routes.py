"""Azure Custom Vision's training and prediction REST contracts (v3.0 to v3.4-preview), for
classification projects, answered by Sightline's custom classifiers: a project is a classifier,
a tag a label, an iteration a version, publishing an iteration publishes the version.

Ids are Custom Vision's UUIDs, computed from Sightline's (`ids`); tags are kept in the catalog
(`tags`). Keys are Sightline keys, sent
as `Training-Key`, `Prediction-Key` or `Ocp-Apim-Subscription-Key`; scopes apply as on `/v1`
(reads need read, changes write, publishing admin). Errors answer `{"code", "message"}` with
Custom Vision's codes (`ERRORS`, one table)."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError

from sightline import errors
from sightline.api import deps
from sightline.api.auth import admitted, check_key
from sightline.api.images import read_body, read_uploads
from sightline.api.scope import scope_of
from sightline.classifiers.service import MAX_DESCRIPTION_LENGTH, ClassifierService, ItemOutcome
from sightline.classifiers.store import ClassifierRecord, ClassifierVersion, VersionStatus
from sightline.facades.custom_vision import ids
from sightline.facades.custom_vision.tags import TagRecord, TagStore
from sightline.fetch import fetch_image
from sightline.images.service import ImageService, Upload
from sightline.keys import Scope
from sightline.storage.tables import MAX_LABEL_LENGTH

KEY_HEADERS = ("training-key", "prediction-key", "ocp-apim-subscription-key")
TRAINING = "/customvision/{api_version}/training"
PREDICTION = "/customvision/{api_version}/prediction"
MAX_BATCH = 64  # images per create_images_from_files, as the service limits it
MAX_JSON_BYTES = 64 * 1024 * 1024  # a batch of base64 images
GENERAL_DOMAIN = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"  # Custom Vision's "General" domain
KINDS = {"Multiclass": "multiclass", "Multilabel": "multilabel"}
CLASSIFICATION_TYPES = {kind: name for name, kind in KINDS.items()}

# Sightline's errors as Custom Vision answers them: the first class the error is an instance of.
ERRORS: tuple[tuple[type[errors.SightlineError], int, str], ...] = (
    (errors.ClassifierNotFound, 404, "NotFound"),
    (errors.ClassifierVersionNotFound, 404, "NotFound"),
    (errors.NotFound, 404, "NotFound"),
    (errors.ClassifierExists, 400, "BadRequestProjectNameNotUnique"),
    (errors.NotEnoughExamples, 400, "BadRequestNotEnoughImagesPerTag"),
    (errors.NotReady, 400, "BadRequestIterationIsNotTrained"),
    (errors.EmptyImage, 400, "BadRequestImageFormat"),
    (errors.InvalidImageFormat, 400, "BadRequestImageFormat"),
    (errors.ImageDimensionsTooLarge, 400, "BadRequestImageDimensions"),
    (errors.PayloadTooLarge, 400, "BadRequestImageSizeBytes"),
    (errors.InvalidUrl, 400, "BadRequestImageUrl"),
    (errors.UrlNotAllowed, 400, "BadRequestImageUrl"),
    (errors.UrlFetchFailed, 400, "BadRequestImageUrl"),
    (errors.InvalidInput, 400, "BadRequest"),
    (errors.UnsupportedMediaType, 400, "BadRequestImageFormat"),
    (errors.Unauthorized, 401, "Unauthorized"),
    (errors.Forbidden, 403, "Forbidden"),
    (errors.TooManyRequests, 429, "TooManyRequests"),
    (errors.Conflict, 409, "Conflict"),
)
# A batch item's failure as `ImageCreateResult.status`.
IMAGE_STATUS = {
    "InvalidImageFormat": "ErrorImageFormat",
    "EmptyImage": "ErrorImageFormat",
    "ImageTooLarge": "ErrorImageSize",
    "ImageDimensionsTooLarge": "ErrorImageDimensions",
    "ImageMemoryTooLarge": "ErrorImageSize",
}


class CustomVisionError(Exception):
    """An answer Sightline has no error of its own for, in Custom Vision's words."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def answer_error(exc: Exception) -> JSONResponse:
    if isinstance(exc, CustomVisionError):
        return _error(exc.status, exc.code, str(exc))
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(400, "BadRequest", problems)
    assert isinstance(exc, errors.SightlineError)
    for kind, status, code in ERRORS:
        if isinstance(exc, kind):
            return _error(status, code, exc.message)
    return _error(exc.status_code, "ErrorUnknown", exc.message)


class CustomVisionRoute(APIRoute):
    """Answers every error of its routes (authentication included) in Custom Vision's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answering(request: Request) -> Response:
            try:
                return await handler(request)
            except (errors.SightlineError, CustomVisionError, RequestValidationError) as exc:
                return answer_error(exc)

        return answering


def authorized(needed: Scope) -> Any:
    """A dependency admitting a Sightline key sent in one of Custom Vision's key headers."""

    def dependency(request: Request) -> Iterator[None]:
        if not deps.services(request).keys.auth_required():
            yield
            return
        given = next((request.headers[h] for h in KEY_HEADERS if request.headers.get(h)), "")
        if not given:
            raise errors.Unauthorized(
                "Access denied: send a Sightline API key as Training-Key, Prediction-Key or "
                "Ocp-Apim-Subscription-Key."
            )
        principal = check_key(request, given)
        request.state.collection = principal.collection  # read by `api.scope`
        yield from admitted(request, principal, needed)

    return Depends(dependency)


def _collection(request: Request) -> str | None:
    return scope_of(request).read(None)


Classifiers = Annotated[ClassifierService, deps.part("classifiers")]
Collection = Annotated[str | None, Depends(_collection)]
router = APIRouter(route_class=CustomVisionRoute)
read = [authorized(Scope.READ)]
write = [authorized(Scope.WRITE)]
admin = [authorized(Scope.ADMIN)]


# -- shapes: Custom Vision's JSON ---------------------------------------------------------------


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def project_json(record: ClassifierRecord) -> dict[str, Any]:
    return {
        "id": ids.project_id(record.id),
        "name": record.name,
        "description": record.description,
        "settings": {
            "domainId": GENERAL_DOMAIN,
            "classificationType": CLASSIFICATION_TYPES[record.kind],
            "targetExportPlatforms": [],
            "useNegativeSet": False,
            "imageProcessingSettings": {"augmentationMethods": {}},
        },
        "created": _time(record.created_at),
        "lastModified": _time(record.updated_at),
        "thumbnailUri": None,
        "drModeEnabled": False,
        "status": "Succeeded",
    }


def tag_json(record: ClassifierRecord, tag: TagRecord) -> dict[str, Any]:
    return {
        "id": tag.id,
        "name": tag.name,
        "description": tag.description,
        "type": "Regular",
        "imageCount": record.label_counts.get(tag.name, 0),
    }


ITERATION_STATUS = {
    VersionStatus.TRAINING: "Training",
    VersionStatus.READY: "Completed",
    VersionStatus.FAILED: "Failed",
}


def iteration_json(record: ClassifierRecord, version: ClassifierVersion) -> dict[str, Any]:
    published = record.published_version == version.number
    return {
        "id": ids.iteration_id(record.id, version.number),
        "name": f"Iteration {version.number}",
        "status": ITERATION_STATUS[version.status],
        "created": _time(version.created_at),
        "lastModified": _time(version.finished_at or version.created_at),
        "trainedAt": _time(version.finished_at),
        "projectId": ids.project_id(record.id),
        "exportable": False,
        "exportableTo": [],
        "domainId": GENERAL_DOMAIN,
        "classificationType": CLASSIFICATION_TYPES[record.kind],
        "trainingType": "Regular",
        "reservedBudgetInHours": 0,
        "trainingTimeInMinutes": round((version.seconds or 0) / 60),
        # The publish name is not kept: a published iteration answers to any name.
        "publishName": record.name if published else None,
        "originalPublishResourceId": None,
        "trainingErrorDetails": None if version.error is None else str(version.error),
    }


# -- reading images ---------------------------------------------------------------------------


def _field_bytes(value: str) -> bytes:
    """The bytes of a form field Starlette decoded: as UTF-8 when they were valid UTF-8, else as
    Latin-1 (bytes to characters one to one). They come back whole, but for valid UTF-8 whose
    characters are all Latin-1 ones, which reads as Latin-1: image files are not such text (PNG
    and JPEG start with a byte UTF-8 refuses; the others hold binary data it refuses)."""
    try:
        candidate = value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()
    try:
        candidate.decode()
    except UnicodeDecodeError:
        return candidate  # not UTF-8: Starlette read it as Latin-1
    return value.encode()


async def image_parts(
    request: Request, images: ImageService, max_files: int | None = None
) -> list[Upload]:
    """The images of a request as Custom Vision's clients send them: multipart parts, with or
    without a file name (the Python client sends bytes as a plain field), or the raw body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        uploads, _features, _metadata = await read_uploads(request, images, max_files)
        return uploads
    settings = images.settings
    max_files = max_files or settings.max_files_per_request
    declared = request.headers.get("content-length")
    if declared is None:
        raise errors.LengthRequired("A multipart upload needs a Content-Length header.")
    if int(declared) > settings.max_request_bytes:
        raise errors.PayloadTooLarge(f"The request is over {settings.max_request_bytes} bytes.")
    try:
        form = await request.form(
            max_files=max_files, max_fields=max_files, max_part_size=settings.max_upload_bytes
        )
    except HTTPException as exc:  # Starlette's refusals: too many parts, a part too large
        raise CustomVisionError(400, "BadRequestImageBatch", str(exc.detail)) from exc
    try:
        uploads = []
        for _name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if value.size is not None and value.size > settings.max_upload_bytes:
                    raise errors.ImageTooLarge(
                        f"An image is over {settings.max_upload_bytes} bytes."
                    )
                uploads.append(Upload(await value.read(), value.filename))
            elif isinstance(value, str):
                uploads.append(Upload(_field_bytes(value)))
        return uploads
    finally:
        await form.close()


# -- training: projects -------------------------------------------------------------------------


def _project(classifiers: ClassifierService, project_id: str, collection: str | None) -> Any:
    try:
        key = ids.classifier_id(project_id)
    except ids.UnknownId:
        raise CustomVisionError(404, "NotFound", f"No project {project_id}.") from None
    return classifiers.get(key, collection=collection)


@router.get(TRAINING + "/projects", dependencies=read)
def get_projects(classifiers: Classifiers, collection: Collection) -> Any:
    return [project_json(r) for r in classifiers.list_classifiers(collection=collection)]


@router.post(TRAINING + "/projects", dependencies=write)
def create_project(
    request: Request,
    classifiers: Classifiers,
    name: str,
    description: str = "",
    domain_id: Annotated[str | None, Query(alias="domainId")] = None,
    classification_type: Annotated[str, Query(alias="classificationType")] = "Multiclass",
) -> Any:
    kind = KINDS.get(classification_type)
    if kind is None:
        raise CustomVisionError(
            400,
            "BadRequestProjectUnknownClassification",
            f"Unknown classificationType {classification_type!r}: Multiclass or Multilabel.",
        )
    if domain_id not in (None, GENERAL_DOMAIN):
        raise CustomVisionError(
            400,
            "BadRequestUnsupportedDomain",
            "Sightline classifies on its own embedding: only the General classification "
            f"domain ({GENERAL_DOMAIN}) is served.",
        )
    try:
        record = classifiers.create(
            name, kind, description, collection=scope_of(request).write(None)
        )
    except errors.InvalidParameter as exc:
        raise CustomVisionError(400, "BadRequestProjectName", exc.message) from exc
    return project_json(record)


@router.get(TRAINING + "/projects/{project_id}", dependencies=read)
def get_project(project_id: str, classifiers: Classifiers, collection: Collection) -> Any:
    return project_json(_project(classifiers, project_id, collection))


@router.delete(TRAINING + "/projects/{project_id}", status_code=204, dependencies=write)
def delete_project(project_id: str, classifiers: Classifiers, collection: Collection) -> Response:
    record = _project(classifiers, project_id, collection)
    classifiers.delete(record.id, collection=collection)
    return Response(status_code=204)


# -- training: tags -----------------------------------------------------------------------------


def _tag_store(request: Request) -> TagStore:
    found: TagStore = request.app.state.custom_vision_tags  # `facades.install`
    return found


Tags = Annotated[TagStore, Depends(_tag_store)]


def project_tags(tags: TagStore, record: ClassifierRecord) -> list[TagRecord]:
    """The project's tags: those created, and its labels made through `/v1`, adopted as tags
    the first time they are seen."""
    kept = tags.tags(record.id)
    named = {tag.name for tag in kept}
    adopted = [
        TagRecord(
            id=ids.tag_id(record.id, label),
            classifier_id=record.id,
            collection=record.collection,
            name=label,
            description="",
            created_at=datetime.now(UTC),
        )
        for label in record.label_counts
        if label not in named
    ]
    if adopted:
        tags.add(adopted)
    return [*kept, *adopted]


def _tag(tags: TagStore, record: ClassifierRecord, tag_id: str) -> TagRecord:
    found = {tag.id: tag for tag in project_tags(tags, record)}.get(tag_id)
    if found is None:
        raise CustomVisionError(404, "NotFound", f"No tag {tag_id}.")
    return found


def _tag_names(tags: TagStore, record: ClassifierRecord, tag_ids: list[str]) -> list[str]:
    """The labels an image's tag ids name, checked before anything is stored."""
    names_of = {tag.id: tag.name for tag in project_tags(tags, record)}
    unknown = [tag for tag in tag_ids if tag not in names_of]
    if unknown:
        raise CustomVisionError(400, "BadRequestInvalidIds", f"No tag {unknown[0]}.")
    names = list(dict.fromkeys(names_of[tag] for tag in tag_ids))
    if not names:
        raise CustomVisionError(
            400, "BadRequestImageTags", "Sightline keeps tagged images only: name their tags."
        )
    if record.kind == KINDS["Multiclass"] and len(names) > 1:
        raise CustomVisionError(
            400, "BadRequestImageTags", "A Multiclass project takes one tag per image."
        )
    return names


@router.get(TRAINING + "/projects/{project_id}/tags", dependencies=read)
def get_tags(project_id: str, classifiers: Classifiers, tags: Tags, collection: Collection) -> Any:
    record = _project(classifiers, project_id, collection)
    return [tag_json(record, tag) for tag in project_tags(tags, record)]


@router.post(TRAINING + "/projects/{project_id}/tags", dependencies=write)
def create_tag(
    project_id: str,
    classifiers: Classifiers,
    tags: Tags,
    collection: Collection,
    name: str,
    description: str = "",
    type: str = "Regular",
) -> Any:
    record = _project(classifiers, project_id, collection)
    if type != "Regular":
        raise CustomVisionError(400, "BadRequest", f"Only Regular tags are served, not {type}.")
    if not 0 < len(name) <= MAX_LABEL_LENGTH or name != name.strip():
        raise CustomVisionError(
            400,
            "BadRequestTagName",
            f"A tag name is 1 to {MAX_LABEL_LENGTH} characters without surrounding spaces.",
        )
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise CustomVisionError(
            400,
            "BadRequestTagDescription",
            f"A tag description is at most {MAX_DESCRIPTION_LENGTH} characters.",
        )
    if any(tag.name == name for tag in project_tags(tags, record)):
        raise CustomVisionError(400, "BadRequestTagNameNotUnique", f"Tag {name!r} exists.")
    tag = TagRecord(
        id=ids.tag_id(record.id, name),
        classifier_id=record.id,
        collection=record.collection,
        name=name,
        description=description,
        created_at=datetime.now(UTC),
    )
    tags.add([tag])
    return tag_json(record, tag)


@router.get(TRAINING + "/projects/{project_id}/tags/{tag_id}", dependencies=read)
def get_tag(
    project_id: str, tag_id: str, classifiers: Classifiers, tags: Tags, collection: Collection
) -> Any:
    record = _project(classifiers, project_id, collection)
    return tag_json(record, _tag(tags, record, tag_id))


# Examples unlabelled per request while a tag is deleted.
DELETE_BATCH = 500


@router.delete(
    TRAINING + "/projects/{project_id}/tags/{tag_id}", status_code=204, dependencies=write
)
def delete_tag(
    project_id: str, tag_id: str, classifiers: Classifiers, tags: Tags, collection: Collection
) -> Response:
    """The tag, and its label on every image (the images stay in the catalogue)."""
    record = _project(classifiers, project_id, collection)
    tag = _tag(tags, record, tag_id)
    while examples := classifiers.examples(
        record.id, tag.name, None, DELETE_BATCH, collection=collection
    ):
        images = [example.image_id for example in examples]
        classifiers.remove_examples(record.id, images, tag.name, collection=collection)
    tags.remove(record.id, tag.id)
    return Response(status_code=204)


# -- training: images ---------------------------------------------------------------------------


def _summary(results: list[dict[str, Any]]) -> JSONResponse:
    ok = all(result["status"] == "OK" for result in results)
    body = {"isBatchSuccessful": ok, "images": results}
    return JSONResponse(body, status_code=200 if ok else 207)


def _result(record: ClassifierRecord, labels: list[str], outcome: ItemOutcome) -> dict[str, Any]:
    if outcome.status >= 400 or outcome.image_id is None:
        code = str((outcome.error or {}).get("code", ""))
        return {"sourceUrl": None, "status": IMAGE_STATUS.get(code, "ErrorUnknown"), "image": None}
    now = _time(datetime.now(UTC))
    image = {
        "id": ids.image_uuid(outcome.image_id),
        "created": now,
        "tags": [
            {"tagId": ids.tag_id(record.id, name), "tagName": name, "created": now}
            for name in labels
        ],
    }
    return {"sourceUrl": None, "status": "OK", "image": image}


def _upload(
    classifiers: ClassifierService,
    record: ClassifierRecord,
    uploads: list[Upload],
    labels: list[str],
    collection: str | None,
) -> list[dict[str, Any]]:
    outcomes = classifiers.upload_examples(record.id, uploads, labels, collection=collection)
    return [_result(record, labels, outcome) for outcome in outcomes]


@router.post(TRAINING + "/projects/{project_id}/images", dependencies=write)
async def create_images_from_data(
    project_id: str,
    request: Request,
    classifiers: Classifiers,
    tags: Tags,
    collection: Collection,
    tag_ids: Annotated[str, Query(alias="tagIds")] = "",
) -> Any:
    record = await run_in_threadpool(_project, classifiers, project_id, collection)
    wanted = [t for t in tag_ids.split(",") if t]
    labels = await run_in_threadpool(_tag_names, tags, record, wanted)
    uploads = await image_parts(request, classifiers.images)
    if not uploads:
        raise CustomVisionError(400, "BadRequestImageBatch", "The request holds no image.")
    results = await run_in_threadpool(_upload, classifiers, record, uploads, labels, collection)
    return _summary(results)


class ImageFileEntry(BaseModel):
    name: str | None = None
    contents: str
    tagIds: list[str] | None = None  # noqa: N815 (the service's field name)


class ImageFileBatch(BaseModel):
    images: list[ImageFileEntry] = Field(max_length=MAX_BATCH)
    tagIds: list[str] | None = None  # noqa: N815


@router.post(TRAINING + "/projects/{project_id}/images/files", dependencies=write)
async def create_images_from_files(
    project_id: str, request: Request, classifiers: Classifiers, tags: Tags, collection: Collection
) -> Any:
    record = await run_in_threadpool(_project, classifiers, project_id, collection)
    try:
        batch = ImageFileBatch.model_validate_json(await read_body(request, MAX_JSON_BYTES))
    except ValidationError as exc:
        raise CustomVisionError(400, "BadRequestImageBatch", str(exc)) from None
    labels_of = [  # every entry's tags checked first: a bad one stores nothing
        await run_in_threadpool(
            _tag_names, tags, record, [*(batch.tagIds or []), *(entry.tagIds or [])]
        )
        for entry in batch.images
    ]
    results = []
    for entry, labels in zip(batch.images, labels_of, strict=True):  # one upload each: own tags
        try:
            data = base64.b64decode(entry.contents, validate=True)
        except binascii.Error:
            results.append({"sourceUrl": entry.name, "status": "ErrorImageFormat", "image": None})
            continue
        upload = Upload(data, entry.name)
        done = await run_in_threadpool(_upload, classifiers, record, [upload], labels, collection)
        results.append({**done[0], "sourceUrl": entry.name})
    return _summary(results)


# -- training: iterations -----------------------------------------------------------------------


def _iteration(
    classifiers: ClassifierService, project_id: str, iteration_id: str, collection: str | None
) -> tuple[ClassifierRecord, ClassifierVersion]:
    record = _project(classifiers, project_id, collection)
    try:
        number = ids.version_number(record.id, iteration_id)
    except ids.UnknownId:
        raise CustomVisionError(404, "NotFound", f"No iteration {iteration_id}.") from None
    return record, classifiers.version(record.id, number, collection=collection)


@router.post(TRAINING + "/projects/{project_id}/train", dependencies=write)
def train_project(
    project_id: str,
    classifiers: Classifiers,
    collection: Collection,
    training_type: Annotated[str, Query(alias="trainingType")] = "Regular",
) -> Any:
    record = _project(classifiers, project_id, collection)
    if training_type != "Regular":
        raise CustomVisionError(
            400,
            "BadRequestDomainNotSupportedForAdvancedTraining",
            "Sightline trains one way (trainingType Regular).",
        )
    version = classifiers.train(record.id, collection=collection)
    return iteration_json(record, version)


@router.get(TRAINING + "/projects/{project_id}/iterations", dependencies=read)
def get_iterations(project_id: str, classifiers: Classifiers, collection: Collection) -> Any:
    record = _project(classifiers, project_id, collection)
    found = classifiers.versions(record.id, collection=collection)
    return [iteration_json(record, version) for version in reversed(found)]


@router.get(TRAINING + "/projects/{project_id}/iterations/{iteration_id}", dependencies=read)
def get_iteration(
    project_id: str, iteration_id: str, classifiers: Classifiers, collection: Collection
) -> Any:
    return iteration_json(*_iteration(classifiers, project_id, iteration_id, collection))


@router.get(
    TRAINING + "/projects/{project_id}/iterations/{iteration_id}/performance", dependencies=read
)
def get_iteration_performance(
    project_id: str, iteration_id: str, classifiers: Classifiers, collection: Collection
) -> Any:
    record, version = _iteration(classifiers, project_id, iteration_id, collection)
    if version.status is not VersionStatus.READY or version.metrics is None:
        raise CustomVisionError(
            400, "BadRequestIterationIsNotTrained", f"Iteration {version.number} is not trained."
        )
    overall = version.metrics["overall"]
    return {
        "perTagPerformance": [
            {
                "id": ids.tag_id(record.id, label["name"]),
                "name": label["name"],
                "precision": label["precision"],
                "precisionStdDeviation": 0.0,
                "recall": label["recall"],
                "recallStdDeviation": 0.0,
                "averagePrecision": label["average_precision"],
            }
            for label in version.metrics["labels"]
        ],
        "precision": overall["precision"],
        "precisionStdDeviation": 0.0,
        "recall": overall["recall"],
        "recallStdDeviation": 0.0,
        "averagePrecision": overall["mean_average_precision"],
    }


@router.post(
    TRAINING + "/projects/{project_id}/iterations/{iteration_id}/publish", dependencies=admin
)
def publish_iteration(
    project_id: str,
    iteration_id: str,
    classifiers: Classifiers,
    collection: Collection,
    publish_name: Annotated[str, Query(alias="publishName", min_length=1)],
    prediction_id: Annotated[str, Query(alias="predictionId")],
) -> Any:
    record, version = _iteration(classifiers, project_id, iteration_id, collection)
    classifiers.publish(record.id, version.number, collection=collection)
    return True


@router.delete(
    TRAINING + "/projects/{project_id}/iterations/{iteration_id}/publish",
    status_code=204,
    dependencies=admin,
)
def unpublish_iteration(
    project_id: str, iteration_id: str, classifiers: Classifiers, collection: Collection
) -> Response:
    record, version = _iteration(classifiers, project_id, iteration_id, collection)
    if record.published_version != version.number:
        raise CustomVisionError(
            400, "BadRequestIterationNotPublished", f"Iteration {version.number} is not published."
        )
    classifiers.unpublish(record.id, collection=collection)
    return Response(status_code=204)


# -- prediction ---------------------------------------------------------------------------------


def _prediction(
    classifiers: ClassifierService, project_id: str, collection: str | None, data: bytes
) -> dict[str, Any]:
    record = _project(classifiers, project_id, collection)
    if record.published_version is None:
        raise CustomVisionError(404, "NotFound", "No iteration of this project is published.")
    verdict = classifiers.predict(record.id, collection=collection, data=data)
    labels = sorted(verdict["labels"], key=lambda label: -label["confidence"])
    return {
        "id": str(uuid.uuid4()),
        "project": ids.project_id(record.id),
        "iteration": ids.iteration_id(record.id, record.published_version),
        "created": _time(datetime.now(UTC)),
        "predictions": [
            {
                "probability": label["confidence"],
                "tagId": ids.tag_id(record.id, label["name"]),
                "tagName": label["name"],
                "tagType": "Regular",
            }
            for label in labels
        ],
    }


class ImageUrl(BaseModel):
    url: str


async def _classify_image(
    project_id: str, request: Request, classifiers: Classifiers, collection: Collection
) -> Any:
    uploads = await image_parts(request, classifiers.images, max_files=1)
    if len(uploads) != 1:
        raise CustomVisionError(400, "BadRequestImageFormat", "Send one image.")
    data = uploads[0].data
    return await run_in_threadpool(_prediction, classifiers, project_id, collection, data)


async def _classify_url(
    project_id: str, request: Request, classifiers: Classifiers, collection: Collection
) -> Any:
    try:
        body = ImageUrl.model_validate_json(await read_body(request, 64 * 1024))
    except ValidationError:
        raise CustomVisionError(400, "BadRequestImageUrl", 'Send {"url": "https://…"}.') from None
    settings = classifiers.images.settings
    data = await run_in_threadpool(
        fetch_image,
        body.url,
        max_bytes=settings.max_upload_bytes,
        timeout=settings.fetch_timeout_seconds,
        allow_private=settings.fetch_allow_private,
    )
    return await run_in_threadpool(_prediction, classifiers, project_id, collection, data)


# Nothing is stored either way: the "store" routes answer as their `nostore` twins.
CLASSIFY = PREDICTION + "/{project_id}/classify/iterations/{published_name}"
for suffix in ("/image", "/image/nostore"):
    router.add_api_route(CLASSIFY + suffix, _classify_image, methods=["POST"], dependencies=write)
for suffix in ("/url", "/url/nostore"):
    router.add_api_route(CLASSIFY + suffix, _classify_url, methods=["POST"], dependencies=write)


def not_supported(request: Request) -> Response:
    """Every other operation of the two APIs (object detection, exports, suggested tags, quick
    tests, stored predictions, …): said plainly rather than faked."""
    raise CustomVisionError(
        400,
        "BadRequest",
        f"{request.method} {request.url.path} is not supported by Sightline's Custom Vision "
        "facade: see docs/compat/azure-custom-vision.md.",
    )


METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
for prefix in (TRAINING, PREDICTION):  # last: the operations above match first
    router.add_api_route(prefix + "/{rest:path}", not_supported, methods=METHODS, dependencies=read)
