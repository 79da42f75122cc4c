"""`POST /` with `X-Amz-Target: RekognitionService.<Operation>`: the AWS JSON 1.1 protocol of
Rekognition's image operations, answered by the same analysis as `POST /v1/analyze` (nothing is
stored).

Who may call: with access keys in SIGHTLINE_AWS_ACCESS_KEYS, or any Sightline API key, every
request must carry a SigV4 signature of one of those access keys (service `rekognition`, any
region); with neither, the facade is open like `/v1`. An access key acts with its scope (the
analysis needs `write`, as `/v1/analyze` does) and its collection, and counts against the same
per-process limits as a Sightline key: wrong signatures per client address, rate and requests
in flight per key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sightline import json_input
from sightline.api import deps
from sightline.api.auth import admitted, client_address
from sightline.api.images import read_body
from sightline.blobs import ObjectReader
from sightline.collection import DEFAULT_COLLECTION, collection_name
from sightline.errors import BackendError, ImageTooLarge, InvalidFeature, SightlineError
from sightline.facades.rekognition import answers, parameters, signature
from sightline.facades.rekognition.errors import (
    AwsError,
    ImageTooLargeException,
    InvalidParameterException,
    InvalidS3ObjectException,
    InvalidSignatureException,
    ResourceNotReadyException,
    SerializationException,
    UnknownOperationException,
    UnrecognizedClientException,
    translated,
)
from sightline.keys import Principal, Scope
from sightline.vision.adult import AdultResult
from sightline.vision.base import ResultModel
from sightline.vision.faces import FacesResult
from sightline.vision.objects import ObjectsResult
from sightline.vision.read import ReadResult
from sightline.vision.registry import stored_result
from sightline.vision.tags import TagsResult

log = logging.getLogger(__name__)
router = APIRouter()
TARGET_PREFIX = "RekognitionService."
JSON_TYPE = "application/x-amz-json-1.1"
# Rekognition's own limits: image bytes up to 5 MB in the request, S3 objects up to 15 MB.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_S3_OBJECT_BYTES = 15 * 1024 * 1024
# The bytes travel base64-encoded (4/3 of their size) in a JSON body with a few parameters.
MAX_BODY_BYTES = MAX_IMAGE_BYTES * 4 // 3 + 64 * 1024
ACCESS_KEY_NAME = "SIGHTLINE_AWS_ACCESS_KEYS"
R = TypeVar("R", bound=ResultModel)
JSON = dict[str, Any]


Analyse = Callable[..., Awaitable[Mapping[str, Any]]]


def typed(results: Mapping[str, Any], feature: str, model: type[R]) -> R:
    """The feature's result as its model; `ResourceNotReadyException` when the feature could
    not run here (its model or extra is not installed)."""
    found = optional(results, feature, model)
    if found is None:
        run = results[feature]
        reason = run.get("error") or run["status"]
        raise ResourceNotReadyException(f"The {feature!r} feature is not available: {reason}")
    return found


def optional(results: Mapping[str, Any], feature: str, model: type[R]) -> R | None:
    run = results[feature]
    found = stored_result(feature, run["result"]) if run["status"] == "done" else None
    return found if isinstance(found, model) else None


# -- the operations --------------------------------------------------------------------------


async def detect_labels(request: parameters.DetectLabels, analyse: Analyse) -> JSON:
    general = (request.Settings and request.Settings.GeneralLabels) or None
    include = {name.lower() for name in general.LabelInclusionFilters} if general else set()
    exclude = {name.lower() for name in general.LabelExclusionFilters} if general else set()
    results = await analyse("tags", "objects")
    tags = typed(results, "tags", TagsResult)
    found = [
        label
        for label in answers.labels(tags, optional(results, "objects", ObjectsResult))
        if label["Confidence"] >= request.MinConfidence
        and (not include or label["Name"].lower() in include)
        and label["Name"].lower() not in exclude
    ]
    if request.MaxLabels is not None:
        found = found[: request.MaxLabels]
    return {"Labels": found, "LabelModelVersion": answers.model_version(tags)}


async def detect_text(request: parameters.DetectText, analyse: Analyse) -> JSON:
    words = request.Filters.WordFilter
    regions = [region.box() for region in request.Filters.RegionsOfInterest]
    read = typed(await analyse("read"), "read", ReadResult)

    def kept(word: JSON) -> bool:
        box = word["Geometry"]["BoundingBox"]
        return (
            word["Confidence"] >= words.MinConfidence
            and box["Height"] >= words.MinBoundingBoxHeight
            and box["Width"] >= words.MinBoundingBoxWidth
            and (not regions or any(_inside(box, region) for region in regions))
        )

    detections = answers.text_detections(read)
    kept_words = [d for d in detections if d["Type"] == "WORD" and kept(d)]
    lines_kept = {word["ParentId"] for word in kept_words}
    return {
        "TextDetections": [
            *(d for d in detections if d["Type"] == "LINE" and d["Id"] in lines_kept),
            *kept_words,
        ],
        "TextModelVersion": answers.model_version(read),
    }


def _inside(found: JSON, region: parameters.BoxShape) -> bool:
    """Whether a detection lies in a region of interest: its centre does (Rekognition keeps
    text with at least half its area inside)."""
    x = float(found["Left"] + found["Width"] / 2)
    y = float(found["Top"] + found["Height"] / 2)
    return (
        region.Left <= x <= region.Left + region.Width
        and region.Top <= y <= region.Top + region.Height
    )


async def detect_faces(request: parameters.DetectFaces, analyse: Analyse) -> JSON:
    faces = typed(await analyse("faces"), "faces", FacesResult)
    return {"FaceDetails": answers.face_details(faces)}


async def detect_moderation_labels(
    request: parameters.DetectModerationLabels, analyse: Analyse
) -> JSON:
    adult = typed(await analyse("adult"), "adult", AdultResult)
    return {
        "ModerationLabels": [
            label
            for label in answers.moderation_labels(adult)
            if label["Confidence"] >= request.MinConfidence
        ],
        "ModerationModelVersion": answers.model_version(adult),
        "ContentTypes": [],
    }


@dataclass(frozen=True)
class Operation:
    parameters: type[parameters.ImageRequest]
    answer: Callable[[Any, Analyse], Awaitable[JSON]]


OPERATIONS = {
    "DetectLabels": Operation(parameters.DetectLabels, detect_labels),
    "DetectText": Operation(parameters.DetectText, detect_text),
    "DetectFaces": Operation(parameters.DetectFaces, detect_faces),
    "DetectModerationLabels": Operation(
        parameters.DetectModerationLabels, detect_moderation_labels
    ),
}


# -- the endpoint ----------------------------------------------------------------------------


@router.post("/")
async def rekognition(request: Request) -> Response:
    try:
        return await _answer(request)
    except AwsError as error:
        return error.response()
    except SightlineError as error:
        answer = translated(error)
        if answer.status_code >= 500:
            log.exception("Rekognition facade: %s", error.message)
        return answer.response()


async def _answer(request: Request) -> Response:
    target = request.headers.get("x-amz-target", "")
    body = await read_body(request, MAX_BODY_BYTES, ImageTooLarge)
    principal = _signer(request, body)
    operation = OPERATIONS.get(target.removeprefix(TARGET_PREFIX))
    if not target.startswith(TARGET_PREFIX) or operation is None:
        raise UnknownOperationException(
            f"Sightline answers {', '.join(OPERATIONS)} of RekognitionService; not {target!r}."
        )
    request_parameters = _parameters(body, operation.parameters)
    with _admission(request, principal):
        image = await _image(request, request_parameters.Image)
        collection = principal.collection if principal else None

        async def analyse(*features: str) -> Mapping[str, Any]:
            images = deps.services(request).images
            try:
                analysed = await run_in_threadpool(
                    images.analyze_now,
                    image,
                    list(features),
                    collection=collection or DEFAULT_COLLECTION,
                )
            except InvalidFeature as exc:
                raise ResourceNotReadyException(exc.message) from exc
            found: Mapping[str, Any] = analysed["features"]
            return found

        answer = await operation.answer(request_parameters, analyse)
    return JSONResponse(answer, media_type=JSON_TYPE)


def _signer(request: Request, body: bytes) -> Principal | None:
    """Who signed the request; None while the facade is open."""
    services = deps.services(request)
    keys = {key.access_key_id: key for key in services.settings.aws_access_key_list()}
    if not keys and not services.keys.auth_required():
        return None
    address = client_address(request)
    services.limits.failures.check(address)
    try:
        key = signature.verify(
            keys,
            request.method,
            request.url.path,
            request.url.query,
            {name.lower(): value for name, value in request.headers.items()},
            body,
            datetime.now(UTC),
        )
    except (InvalidSignatureException, UnrecognizedClientException):
        services.limits.failures.failed(address)
        raise
    collection = None if key.collection is None else collection_name(key.collection)
    return Principal(f"aws:{key.access_key_id}", ACCESS_KEY_NAME, Scope(key.scope), collection)


@contextlib.contextmanager
def _admission(request: Request, principal: Principal | None) -> Iterator[None]:
    if principal is None:
        yield
        return
    yield from admitted(request, principal, Scope.WRITE)


def _parameters(body: bytes, shape: type[parameters.ImageRequest]) -> parameters.ImageRequest:
    try:
        document = json_input.loads(body)
    except json.JSONDecodeError as exc:
        raise SerializationException(f"The body is not JSON: {exc.msg}") from exc
    if not isinstance(document, dict):
        raise SerializationException("The body is not a JSON object.")
    try:
        return shape.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidParameterException(f"{where}: {message}" if where else message) from exc


async def _image(request: Request, image: parameters.ImageShape) -> bytes:
    """The image's bytes: inline (base64 in the JSON) or read from the S3 blob store."""
    if image.S3Object is not None:
        return await _s3_object(request, image.S3Object)
    try:
        data = base64.b64decode(image.Bytes or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameterException("Image.Bytes is not base64.") from exc
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLargeException(
            f"Image.Bytes has {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}."
        )
    return data


async def _s3_object(request: Request, named: parameters.S3ObjectShape) -> bytes:
    blobs = deps.services(request).images.blobs
    if not isinstance(blobs, ObjectReader):
        raise InvalidS3ObjectException(
            "This Sightline server keeps its blobs in a folder, not S3: send the image's Bytes."
        )
    try:
        return await run_in_threadpool(
            blobs.read_object,
            named.Bucket,
            named.Name,
            named.Version,
            max_bytes=MAX_S3_OBJECT_BYTES,
        )
    except BackendError as exc:  # refused (access denied) or unreachable: Rekognition says so
        raise InvalidS3ObjectException(
            f"Unable to get object metadata from S3: {exc.message}"
        ) from exc
