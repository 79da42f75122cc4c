"""Computer Vision 3.2's operations (`/vision/v3.2/...`), each mapped onto the image service's
analyse-without-storing, as `POST /v1/analyze`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from sightline.api import deps
from sightline.api.images import read_body, read_uploads
from sightline.api.scope import WriteCollection, scope_of
from sightline.errors import PayloadTooLarge
from sightline.facades.azure_cv import shapes
from sightline.facades.azure_cv.auth import subscription_key
from sightline.facades.azure_cv.errors import (
    BAD_ARGUMENT,
    FAILED_TO_PROCESS,
    INVALID_DETAILS,
    INVALID_IMAGE_URL,
    INVALID_THUMBNAIL_SIZE,
    NOT_SUPPORTED_FEATURE,
    NOT_SUPPORTED_LANGUAGE,
    NOT_SUPPORTED_VISUAL_FEATURE,
    OPERATION_NOT_FOUND,
    AzureError,
    AzureRoute,
)
from sightline.facades.azure_cv.reads import ReadOperations
from sightline.facades.azure_cv.thumbnails import thumbnail
from sightline.fetch import fetch_image
from sightline.images.service import ImageService
from sightline.vision.geometry import Box
from sightline.vision.registry import stored_result
from sightline.vision.smart_crop import SmartCropResult
from sightline.vision.tags import TagsAnalyzer

PREFIX = "/vision/v3.2"
router = APIRouter(
    prefix=PREFIX,
    route_class=AzureRoute,
    dependencies=[Depends(subscription_key, scope="request")],
)
Service = Annotated[ImageService, deps.part("images")]
MAX_JSON_BYTES = 64 * 1024
# Sightline's tags, object labels and text are English.
LANGUAGES = frozenset({"en"})
MAX_THUMBNAIL_SIDE = 1024
# Asked for, these answer NotSupportedVisualFeature: no model of Sightline's gives them.
UNSUPPORTED_VISUAL_FEATURES = {
    "Categories": "Azure's 86-category taxonomy",
    "Description": "captions (no captioning model)",
    "Brands": "brand logos",
}
SUPPORTED_DETAILS: frozenset[str] = frozenset()  # Celebrities and Landmarks: neither


# -- reading the request ---------------------------------------------------------------------


async def image_bytes(request: Request, service: ImageService) -> bytes:
    """The image: the JSON body's `url`, fetched under `/v1/analyze`'s URL policy, or, read as
    `/v1/analyze` reads it, the body itself (application/octet-stream, as the SDK sends a
    stream, or image/*) or a multipart form's one file."""
    settings = service.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        uploads, _features, _metadata = await read_uploads(request, service, max_files=1)
        if len(uploads) != 1:
            raise AzureError(BAD_ARGUMENT, "Send one image.")
        return uploads[0].data
    raw = await read_body(request, MAX_JSON_BYTES, PayloadTooLarge)
    try:
        url = json.loads(raw).get("url")
    except (ValueError, AttributeError):
        url = None
    if not isinstance(url, str) or not url:
        raise AzureError(INVALID_IMAGE_URL, 'The body must be JSON {"url": "…"}.')
    return await run_in_threadpool(
        fetch_image,
        url,
        max_bytes=settings.max_upload_bytes,
        timeout=settings.fetch_timeout_seconds,
        allow_private=settings.fetch_allow_private,
    )


def listed(values: list[str] | None) -> list[str]:
    """A comma-separated (or repeated) query parameter's values."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def check_language(language: str | None) -> None:
    if language is not None and language.lower() not in LANGUAGES:
        raise AzureError(
            NOT_SUPPORTED_LANGUAGE,
            f"Language {language!r} is not supported; supported: {', '.join(sorted(LANGUAGES))}.",
        )


async def analyzed(
    service: ImageService, data: bytes, features: list[str], collection: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The image's description and each of `features`' typed result; a feature that could not
    run is the service's error. With `tags` come the features its concept words are read from
    (people found make "person"), as in the default feature set of `/v1`."""
    computed = list(
        dict.fromkeys([*features, *(sorted(TagsAnalyzer.reuses) if "tags" in features else ())])
    )
    answer = await run_in_threadpool(service.analyze_now, data, computed, collection=collection)
    results = {}
    for feature in features:
        run = answer["features"][feature]
        if run["status"] == "skipped":  # e.g. `objects` with no detector installed
            reason = (run["result"] or {}).get("reason") or run["error"] or "not available"
            raise AzureError(NOT_SUPPORTED_FEATURE, f"{feature}: {reason}")
        if run["status"] != "done":
            raise AzureError(FAILED_TO_PROCESS, f"{feature} failed: {run['error']}")
        results[feature] = stored_result(feature, run["result"])
    return answer["image"], results


def described(image: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestId": str(uuid.uuid4()),
        "metadata": shapes.metadata(image),
        "modelVersion": shapes.MODEL_VERSION,
    }


# -- the operations --------------------------------------------------------------------------


@router.post("/analyze")
async def analyze(
    request: Request,
    service: Service,
    collection: WriteCollection,
    visual_features: Annotated[list[str] | None, Query(alias="visualFeatures")] = None,
    details: Annotated[list[str] | None, Query()] = None,
    language: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    # The service's default is Categories alone.
    requested = listed(visual_features) or ["Categories"]
    known = {name.lower(): name for name in [*shapes.VISUAL_FEATURES, *UNSUPPORTED_VISUAL_FEATURES]}
    names = []
    for value in requested:
        name = known.get(value.lower())
        if name is None:
            raise AzureError(NOT_SUPPORTED_VISUAL_FEATURE, f"Unknown visual feature {value!r}.")
        if name in UNSUPPORTED_VISUAL_FEATURES:
            raise AzureError(
                NOT_SUPPORTED_VISUAL_FEATURE,
                f"{name} is not supported by this server: it has no model for "
                f"{UNSUPPORTED_VISUAL_FEATURES[name]}.",
            )
        names.append(name)
    for detail in listed(details):
        if detail not in SUPPORTED_DETAILS:
            raise AzureError(INVALID_DETAILS, f"Details {detail!r} are not supported.")
    check_language(language)
    data = await image_bytes(request, service)
    wanted = {name: shapes.VISUAL_FEATURES[name] for name in dict.fromkeys(names)}
    image, results = await analyzed(
        service, data, [feature for feature, _field, _shape in wanted.values()], collection
    )
    answer: dict[str, Any] = {}
    for feature, field, shape in wanted.values():
        answer[field] = shape(results[feature])
    return answer | described(image)


@router.post("/tag")
async def tag(
    request: Request,
    service: Service,
    collection: WriteCollection,
    language: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    check_language(language)
    image, results = await analyzed(
        service, await image_bytes(request, service), ["tags"], collection
    )
    return {"tags": shapes.tags(results["tags"])} | described(image)


@router.post("/detect")
async def detect(request: Request, service: Service, collection: WriteCollection) -> dict[str, Any]:
    image, results = await analyzed(
        service, await image_bytes(request, service), ["objects"], collection
    )
    return {"objects": shapes.objects(results["objects"])} | described(image)


def smart_crops(results: dict[str, Any]) -> SmartCropResult:
    return shapes.typed(results["smart_crop"], SmartCropResult)


@router.post("/areaOfInterest")
async def area_of_interest(
    request: Request, service: Service, collection: WriteCollection
) -> dict[str, Any]:
    image, results = await analyzed(
        service, await image_bytes(request, service), ["smart_crop"], collection
    )
    # The tightest of the smart crops that keeps every face, line of text and object (the
    # first crop when none keeps them all).
    crops = smart_crops(results).crops
    keeping = [crop for crop in crops if crop.contains_all_regions] or crops[:1]
    area = min(keeping, key=lambda crop: crop.box.w * crop.box.h).box
    return {"areaOfInterest": shapes.rectangle(area)} | described(image)


@router.post("/generateThumbnail")
async def generate_thumbnail(
    request: Request,
    service: Service,
    collection: WriteCollection,
    width: Annotated[int, Query()],
    height: Annotated[int, Query()],
    smart_cropping: Annotated[bool, Query(alias="smartCropping")] = False,
) -> Response:
    if not (0 < width <= MAX_THUMBNAIL_SIDE and 0 < height <= MAX_THUMBNAIL_SIDE):
        raise AzureError(
            INVALID_THUMBNAIL_SIZE,
            f"Width and height must be between 1 and {MAX_THUMBNAIL_SIDE}.",
        )
    data = await image_bytes(request, service)
    crop: Box | None = None
    if smart_cropping:
        _image, results = await analyzed(service, data, ["smart_crop"], collection)
        ratio = width / height
        # The smart crop whose aspect is nearest the thumbnail's, trimmed to it exactly.
        crop = min(smart_crops(results).crops, key=lambda c: abs(c.aspect_ratio - ratio)).box
    else:
        await analyzed(service, data, ["metadata"], collection)  # the decode limits apply
    picture = await run_in_threadpool(thumbnail, data, width, height, crop)
    return Response(picture, media_type="image/jpeg")


def operations(request: Request) -> ReadOperations:
    found: ReadOperations = request.app.state.read_operations  # `facades.install`
    return found


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.post("/read/analyze", status_code=202)
async def read(
    request: Request,
    service: Service,
    collection: WriteCollection,
    language: Annotated[str | None, Query()] = None,
    pages: Annotated[list[str] | None, Query()] = None,
    reading_order: Annotated[str | None, Query(alias="readingOrder")] = None,
) -> Response:
    check_language(language)
    if listed(pages) and listed(pages) != ["1"]:
        raise AzureError(BAD_ARGUMENT, "An image has one page: pages may only be 1.")
    if reading_order not in (None, "basic", "natural"):
        raise AzureError(BAD_ARGUMENT, f"Unknown readingOrder {reading_order!r}.")
    started = timestamp()
    _image, results = await analyzed(
        service, await image_bytes(request, service), ["read"], collection
    )
    operation_id = str(uuid.uuid4())
    await run_in_threadpool(
        operations(request).keep,
        operation_id,
        collection,
        {
            "status": "succeeded",
            "createdDateTime": started,
            "lastUpdatedDateTime": timestamp(),
            "analyzeResult": shapes.read(results["read"], language),
        },
    )
    location = str(request.url_for("read_result", operation_id=operation_id))
    return Response(status_code=202, headers={"Operation-Location": location})


@router.get("/read/analyzeResults/{operation_id}", name="read_result")
async def read_result(request: Request, operation_id: str) -> JSONResponse:
    # A key bound to a collection sees only the operations run in it.
    collection = scope_of(request).read(None)
    answer = await run_in_threadpool(operations(request).get, operation_id, collection)
    if answer is None:
        raise AzureError(
            OPERATION_NOT_FOUND, "No Read operation with this id: it is unknown or has expired."
        )
    return JSONResponse(answer)
