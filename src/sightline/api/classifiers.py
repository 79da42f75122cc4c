"""`/v1/classifiers`: custom classifiers trained on your own labelled images.

A classifier belongs to the collection it was created in; a route naming it by name finds it in
the caller's collection (`collection`, the key's, or `default`), by id in any it may see."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.images import DECODE_ERRORS, READ_ERRORS, read_body, read_uploads
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import (
    MAX_STORED_INT,
    RequestBody,
    files_or_json,
    parse_json,
)
from sightline.api.scope import ReadCollection, WriteCollection
from sightline.classifiers.features import Verdict
from sightline.classifiers.service import ClassifierService, ItemOutcome
from sightline.classifiers.store import (
    ClassifierRecord,
    ClassifierVersion,
    VersionStatus,
    prediction_feature,
)
from sightline.errors import (
    BackendError,
    ClassifierExists,
    ClassifierNotFound,
    ClassifierVersionNotFound,
    HeadNotExportable,
    ImageNotFound,
    InsufficientStorage,
    InvalidJson,
    InvalidParameter,
    NotEnoughExamples,
    NotReady,
    PayloadTooLarge,
    TooManyFiles,
)

VersionNumber = Annotated[int, Path(ge=1, le=MAX_STORED_INT, description="A version number.")]
router = APIRouter(prefix="/v1/classifiers", tags=["classifiers"], route_class=StrictJSONRoute)
Classifiers = Annotated[ClassifierService, deps.part("classifiers")]
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_BATCH = 1000
KEY = "The classifier's id (`clf_…`) or its name."


# -- shapes --------------------------------------------------------------------------------------


class ClassifierIn(RequestBody):
    model_config = examples(shown.CLASSIFIER_IN)

    name: str = Field(
        description="Unique in the collection; the prediction feature is `custom:NAME`."
    )
    kind: str = Field(description="`multiclass` (one label per image) or `multilabel`.")
    description: str = ""


class ClassifierPatch(RequestBody):
    model_config = examples(shown.CLASSIFIER_PATCH)

    description: str | None = None
    run_on_upload: bool | None = Field(
        None,
        description="Predict on every new upload (the published version), as one more "
        "default feature.",
    )


class LabelOut(BaseModel):
    name: str
    examples: int


class ClassifierOut(BaseModel):
    model_config = examples(shown.CLASSIFIER, shown.NEW_CLASSIFIER)

    id: str
    collection: str = Field(description="Its examples and predictions are this one's images.")
    name: str
    kind: str
    description: str
    feature: str = Field(description="The feature holding its predictions on images.")
    published_version: int | None
    run_on_upload: bool
    labels: list[LabelOut]
    example_count: int = Field(description="Labelled images.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ClassifierRecord) -> ClassifierOut:
        return cls(
            id=record.id,
            collection=record.collection,
            name=record.name,
            kind=record.kind,
            description=record.description,
            feature=prediction_feature(record.name),
            published_version=record.published_version,
            run_on_upload=record.run_on_upload,
            labels=[LabelOut(name=n, examples=c) for n, c in record.label_counts.items()],
            example_count=record.example_count,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class ClassifierList(BaseModel):
    model_config = examples(shown.CLASSIFIERS)

    items: list[ClassifierOut]


class ExampleIn(RequestBody):
    image_id: str
    labels: list[str] = Field(description="Exactly one for a multiclass classifier.")


class ExamplesIn(RequestBody):
    model_config = examples(shown.EXAMPLES_IN)

    examples: list[ExampleIn] = Field(max_length=MAX_BATCH)


class ItemOut(BaseModel):
    index: int = Field(description="Position in the request.")
    status: int = Field(description="The HTTP status this item would have had alone.")
    image_id: str | None
    error: dict[str, Any] | None = None


class BatchOut(BaseModel):
    model_config = examples(shown.BATCH)

    succeeded: int
    failed: int
    items: list[ItemOut]

    @classmethod
    def of(cls, outcomes: list[ItemOutcome]) -> BatchOut:
        failed = sum(1 for outcome in outcomes if outcome.status >= 400)
        return cls(
            succeeded=len(outcomes) - failed,
            failed=failed,
            items=[
                ItemOut(index=o.index, status=o.status, image_id=o.image_id, error=o.error)
                for o in outcomes
            ],
        )


class ExampleOut(BaseModel):
    image_id: str
    labels: list[str]


class ExampleList(BaseModel):
    model_config = examples(shown.EXAMPLE_LIST)

    items: list[ExampleOut]
    next_cursor: str | None


class Removed(BaseModel):
    model_config = examples(shown.REMOVED)

    removed: int = Field(description="Image-label pairs removed.")


class TrainIn(RequestBody):
    model_config = examples(shown.TRAIN)

    threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Probability at which a label counts as predicted. Without one, a "
        "multiclass version predicts its top label whatever its probability (its `threshold` "
        "reads 0) and a multilabel version uses 0.5.",
    )


class VersionOut(BaseModel):
    model_config = examples(shown.VERSION, shown.TRAINING)

    number: int
    status: VersionStatus
    threshold: float = Field(
        description="Probability at which a label counts as predicted; 0: a multiclass "
        "version trained without one, which predicts its top label always."
    )
    labels: list[str]
    example_count: int
    embedding_version: str = Field(description="Version of the `embedding` it was trained on.")
    metrics: dict[str, Any] | None = Field(
        description="Cross-validated precision, recall and average precision per label and "
        "overall, and the confusion matrix (multiclass: with its `misclassified` examples, "
        "`[{image_id, actual, predicted, confidence}]`); `head`: the head training chose, "
        "`{chosen, selected_by, candidates: [{name, input, model, augmentation (when the examples' "
        "copies were fit on too: `shift` or `flip`), cv_accuracy (multiclass), "
        "cv_mean_average_precision}]}`, and `model`: the chosen head's model."
    )
    error: dict[str, Any] | None
    training_seconds: float | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, version: ClassifierVersion) -> VersionOut:
        return cls(
            number=version.number,
            status=version.status,
            threshold=version.threshold,
            labels=version.labels,
            example_count=version.example_count,
            embedding_version=version.embedding_version,
            metrics=version.metrics,
            error=version.error,
            training_seconds=version.seconds,
            created_at=version.created_at,
            finished_at=version.finished_at,
        )


class VersionList(BaseModel):
    model_config = examples(shown.VERSIONS)

    items: list[VersionOut]


class PredictIn(RequestBody):
    model_config = examples(shown.PREDICT_IN)

    image_id: str


class PredictionOut(Verdict):
    """A version's prediction for one picture, as `predict` answers it."""

    model_config = examples(shown.PREDICTION)


class BackfillIn(RequestBody):
    model_config = examples(shown.BACKFILL)

    only_missing: bool = Field(
        True, description="Skip images whose prediction from the published version exists."
    )


EXAMPLES_BODY = files_or_json(ExamplesIn, "Images to store and label (any field name).")
PREDICT_BODY = files_or_json(PredictIn, "The one image to predict on.")


# -- routes --------------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=ClassifierOut,
    responses=documented(ClassifierExists, InsufficientStorage),
)
def create_classifier(
    body: ClassifierIn, classifiers: Classifiers, response: Response, collection: WriteCollection
) -> Any:
    record = classifiers.create(body.name, body.kind, body.description, collection=collection)
    response.headers["Location"] = f"/v1/classifiers/{record.id}"
    return ClassifierOut.of(record)


@router.get("", response_model=ClassifierList)
def list_classifiers(classifiers: Classifiers, collection: ReadCollection) -> Any:
    found = classifiers.list_classifiers(collection=collection)
    return ClassifierList(items=[ClassifierOut.of(record) for record in found])


@router.get(
    "/{key}",
    response_model=ClassifierOut,
    responses=documented(ClassifierNotFound),
    description=KEY,
)
def get_classifier(key: str, classifiers: Classifiers, collection: ReadCollection) -> Any:
    return ClassifierOut.of(classifiers.get(key, collection=collection))


@router.patch(
    "/{key}",
    response_model=ClassifierOut,
    responses=documented(ClassifierNotFound, NotReady, InsufficientStorage),
)
def update_classifier(
    key: str, body: ClassifierPatch, classifiers: Classifiers, collection: ReadCollection
) -> Any:
    return ClassifierOut.of(
        classifiers.update(
            key,
            collection=collection,
            description=body.description,
            run_on_upload=body.run_on_upload,
        )
    )


@router.delete(
    "/{key}", status_code=204, responses=documented(ClassifierNotFound, InsufficientStorage)
)
def delete_classifier(key: str, classifiers: Classifiers, collection: ReadCollection) -> Response:
    classifiers.delete(key, collection=collection)
    return Response(status_code=204)


@router.post(
    "/{key}/examples",
    status_code=207,
    response_model=BatchOut,
    responses=documented(ClassifierNotFound, *READ_ERRORS, InvalidJson, InsufficientStorage),
    openapi_extra=EXAMPLES_BODY,
    summary="Label images: stored ones by id (JSON), or new uploads (multipart/raw)",
    description=(
        'JSON `{"examples": [{"image_id": "img_…", "labels": ["dress"]}, …]}` labels stored '
        "images of the classifier's collection; files sent as `multipart/form-data` (or one raw "
        "`image/*` body) are stored as new images of that collection with the labels given in "
        "`labels`. Every item succeeds or fails on its own: the answer is 207 with each item's "
        "status."
    ),
)
async def add_examples(
    key: str,
    request: Request,
    classifiers: Classifiers,
    collection: ReadCollection,
    labels: Annotated[
        list[str] | None,
        Query(description="Labels for the uploaded files (repeated or comma-separated)."),
    ] = None,
) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = parse_json(ExamplesIn, await read_body(request, MAX_JSON_BYTES, PayloadTooLarge))
        items = [(example.image_id, example.labels) for example in body.examples]
        outcomes = await run_in_threadpool(
            classifiers.add_examples, key, items, collection=collection
        )
        return BatchOut.of(outcomes)
    uploads, _features, _metadata = await read_uploads(request, classifiers.images)
    names = [part for value in labels or [] for part in value.split(",")]
    outcomes = await run_in_threadpool(
        classifiers.upload_examples, key, uploads, names, collection=collection
    )
    return BatchOut.of(outcomes)


@router.get("/{key}/examples", response_model=ExampleList, responses=documented(ClassifierNotFound))
def list_examples(
    key: str,
    classifiers: Classifiers,
    collection: ReadCollection,
    label: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> Any:
    found = classifiers.examples(key, label, cursor, limit + 1, collection=collection)
    next_cursor = found[limit - 1].image_id if len(found) > limit else None
    return ExampleList(
        items=[ExampleOut(image_id=e.image_id, labels=list(e.labels)) for e in found[:limit]],
        next_cursor=next_cursor,
    )


@router.delete(
    "/{key}/examples",
    response_model=Removed,
    responses=documented(ClassifierNotFound, InsufficientStorage),
)
def remove_examples(
    key: str,
    classifiers: Classifiers,
    collection: ReadCollection,
    image_id: Annotated[list[str], Query(description="Images to unlabel (repeatable).")],
    label: Annotated[str | None, Query(description="Only this label; default: all.")] = None,
) -> Any:
    return Removed(removed=classifiers.remove_examples(key, image_id, label, collection=collection))


@router.post(
    "/{key}/train",
    status_code=202,
    response_model=VersionOut,
    responses=documented(ClassifierNotFound, NotEnoughExamples, InsufficientStorage),
    summary="Train a new version in the background",
    description="Each label needs at least 5 examples (`NotEnoughExamples` otherwise). Poll "
    "the version until its status is `ready` or `failed`.",
)
def train(
    key: str,
    classifiers: Classifiers,
    response: Response,
    collection: ReadCollection,
    body: Annotated[TrainIn | None, Body()] = None,
) -> Any:
    version = classifiers.train(key, (body or TrainIn()).threshold, collection=collection)
    response.headers["Location"] = f"/v1/classifiers/{key}/versions/{version.number}"
    return VersionOut.of(version)


@router.get("/{key}/versions", response_model=VersionList, responses=documented(ClassifierNotFound))
def list_versions(key: str, classifiers: Classifiers, collection: ReadCollection) -> Any:
    found = classifiers.versions(key, collection=collection)
    return VersionList(items=[VersionOut.of(v) for v in found])


@router.get(
    "/{key}/versions/{number}",
    response_model=VersionOut,
    responses=documented(ClassifierNotFound, ClassifierVersionNotFound),
)
def get_version(
    key: str, number: VersionNumber, classifiers: Classifiers, collection: ReadCollection
) -> Any:
    return VersionOut.of(classifiers.version(key, number, collection=collection))


@router.post(
    "/{key}/versions/{number}/publish",
    response_model=ClassifierOut,
    responses=documented(
        ClassifierNotFound, ClassifierVersionNotFound, NotReady, InsufficientStorage
    ),
)
def publish(
    key: str, number: VersionNumber, classifiers: Classifiers, collection: ReadCollection
) -> Any:
    return ClassifierOut.of(classifiers.publish(key, number, collection=collection))


@router.get(
    "/{key}/versions/{number}/export",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/zip": {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "`model.onnx`, `labels.txt` (one label a line) and "
                        "`classifier.json`.",
                    }
                }
            }
        },
        **documented(ClassifierNotFound, ClassifierVersionNotFound, NotReady, HeadNotExportable),
    },
    summary="The version as an ONNX model (input: the embedding) with its labels, zipped",
    description="Only a version whose chosen head is `embedding/linear` exports "
    "(`HeadNotExportable` otherwise): the others read pixels or keep their examples.",
)
def export(
    key: str, number: VersionNumber, classifiers: Classifiers, collection: ReadCollection
) -> Response:
    filename, data = classifiers.export(key, number, collection=collection)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/{key}/predict",
    response_model=PredictionOut,
    responses=documented(
        ClassifierNotFound,
        ClassifierVersionNotFound,
        NotReady,
        ImageNotFound,
        *READ_ERRORS,
        *DECODE_ERRORS,
        InvalidJson,
        BackendError,
    ),
    openapi_extra=PREDICT_BODY,
    summary="Label probabilities for one image",
    description='Send the image (raw `image/*` or multipart), or JSON `{"image_id": "img_…"}` '
    "for a stored one (of the classifier's collection). Uses the published version unless "
    "`version` names another. `labels`: every label with its probability, best first; "
    "`predicted`: multiclass, the top label (only at or above `threshold` when the version "
    "was trained with one, else `threshold` is 0), multilabel, every label at or above it.",
)
async def predict(
    key: str,
    request: Request,
    classifiers: Classifiers,
    collection: ReadCollection,
    version: Annotated[int | None, Query(ge=1, le=MAX_STORED_INT)] = None,
) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = parse_json(PredictIn, await read_body(request, MAX_JSON_BYTES, PayloadTooLarge))
        return await run_in_threadpool(
            lambda: classifiers.predict(
                key, collection=collection, image_id=body.image_id, number=version
            )
        )
    uploads, _labels, _metadata = await read_uploads(request, classifiers.images, max_files=1)
    if len(uploads) != 1:
        raise (TooManyFiles if uploads else InvalidParameter)(
            f"Send one image, not {len(uploads)}."
        )
    data = uploads[0].data
    return await run_in_threadpool(
        lambda: classifiers.predict(key, collection=collection, data=data, number=version)
    )


@router.post(
    "/{key}/backfill",
    status_code=202,
    response_model=ClassifierOut,
    responses=documented(ClassifierNotFound, NotReady, InsufficientStorage),
)
def backfill(
    key: str,
    classifiers: Classifiers,
    collection: ReadCollection,
    body: Annotated[BackfillIn | None, Body()] = None,
) -> Any:
    """Predict with the published version on the images of its collection already stored, in
    the background."""
    only_missing = (body or BackfillIn()).only_missing
    return ClassifierOut.of(classifiers.backfill(key, only_missing, collection=collection))
