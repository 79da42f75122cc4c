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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from sightline import json_input
from sightline.api import deps
from sightline.api.auth import _admitted, client_address
from sightline.api.images import read_body
from sightline.blobs import ObjectReader
from sightline.collection import DEFAULT_COLLECTION, collection_name
from sightline.errors import BackendError, ImageTooLarge, InvalidFeature, SightlineError
from sightline.facades.rekognition import answers, signature
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
# Rekognition's defaults when a request names no MinConfidence.
LABELS_MIN_CONFIDENCE = 55.0
MODERATION_MIN_CONFIDENCE = 50.0
# What DetectFaces can answer: the attributes that need no model Sightline lacks (`ALL` asks
# for whatever the service has; Sightline has boxes, landmarks and confidences).
FACE_ATTRIBUTES = frozenset({"DEFAULT", "ALL"})
ACCESS_KEY_NAME = "SIGHTLINE_AWS_ACCESS_KEYS"
R = TypeVar("R", bound=ResultModel)
JSON = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One request: its parameters, its image and what it may reach."""

    parameters: JSON
    image: bytes
    collection: str
    request: Request

    async def results(self, *features: str) -> Mapping[str, Any]:
        images = deps.services(self.request).images
        try:
            analysed = await run_in_threadpool(
                images.analyze_now, self.image, list(features), collection=self.collection
            )
        except InvalidFeature as exc:
            raise ResourceNotReadyException(exc.message) from exc
        found: Mapping[str, Any] = analysed["features"]
        return found

    def number(self, name: str, default: float | None, low: float, high: float) -> float | None:
        value = self.parameters.get(name, default)
        if value is None:
            return None
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not low <= value <= high:
            raise InvalidParameterException(f"{name} must be a number from {low:g} to {high:g}.")
        return float(value)

    def refuse(self, *names: str) -> None:
        """Options Rekognition has and Sightline does not serve: said so, not ignored."""
        for name in names:
            if self.parameters.get(name) is not None:
                raise InvalidParameterException(f"Sightline does not support {name}.")


def typed(results: Mapping[str, Any], feature: str, model: type[R]) -> R:
    """The feature's result as its model; `ResourceNotReadyException` when the feature could
    not run here (its model or extra is not installed)."""
    run = results[feature]
    found = stored_result(feature, run["result"]) if run["status"] == "done" else None
    if not isinstance(found, model):
        reason = run.get("error") or run["status"]
        raise ResourceNotReadyException(f"The {feature!r} feature is not available: {reason}")
    return found


def optional(results: Mapping[str, Any], feature: str, model: type[R]) -> R | None:
    run = results[feature]
    found = stored_result(feature, run["result"]) if run["status"] == "done" else None
    return found if isinstance(found, model) else None


# -- the operations --------------------------------------------------------------------------


async def detect_labels(call: Call) -> JSON:
    features = call.parameters.get("Features") or ["GENERAL_LABELS"]
    if features != ["GENERAL_LABELS"]:
        raise InvalidParameterException(
            "Sightline answers Features GENERAL_LABELS only; IMAGE_PROPERTIES is not supported."
        )
    settings = call.parameters.get("Settings") or {}
    general = settings.get("GeneralLabels") or {} if isinstance(settings, dict) else None
    if not isinstance(general, dict):
        raise InvalidParameterException("Settings.GeneralLabels must be an object.")
    categories = ("LabelCategoryInclusionFilters", "LabelCategoryExclusionFilters")
    if settings.get("ImageProperties") or any(general.get(name) for name in categories):
        raise InvalidParameterException("Sightline does not support label categories.")
    include = {name.lower() for name in general.get("LabelInclusionFilters") or ()}
    exclude = {name.lower() for name in general.get("LabelExclusionFilters") or ()}
    min_confidence = call.number("MinConfidence", LABELS_MIN_CONFIDENCE, 0, 100)
    max_labels = call.number("MaxLabels", None, 0, 2**31)
    results = await call.results("tags", "objects")
    tags = typed(results, "tags", TagsResult)
    found = [
        label
        for label in answers.labels(tags, optional(results, "objects", ObjectsResult))
        if label["Confidence"] >= (min_confidence or 0)
        and (not include or label["Name"].lower() in include)
        and label["Name"].lower() not in exclude
    ]
    if max_labels is not None:
        found = found[: int(max_labels)]
    return {"Labels": found, "LabelModelVersion": answers.model_version(tags)}


async def detect_text(call: Call) -> JSON:
    filters = call.parameters.get("Filters") or {}
    if not isinstance(filters, dict):
        raise InvalidParameterException("Filters must be an object.")
    words = Call(filters.get("WordFilter") or {}, b"", call.collection, call.request)
    min_confidence = words.number("MinConfidence", 0, 0, 100) or 0
    min_height = words.number("MinBoundingBoxHeight", 0, 0, 1) or 0
    min_width = words.number("MinBoundingBoxWidth", 0, 0, 1) or 0
    regions = [_region(region) for region in filters.get("RegionsOfInterest") or ()]
    read = typed(await call.results("read"), "read", ReadResult)

    def kept(detection: JSON) -> bool:
        box = detection["Geometry"]["BoundingBox"]
        return (
            detection["Confidence"] >= min_confidence
            and box["Height"] >= min_height
            and box["Width"] >= min_width
            and (not regions or any(inside(box) for inside in regions))
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


def _region(region: Any) -> Callable[[JSON], bool]:
    """Whether a detection lies in a region of interest: its centre does (Rekognition keeps
    text with at least half its area inside). A polygon counts by its enclosing box."""
    if not isinstance(region, dict):
        raise InvalidParameterException("Each region of interest is an object.")
    box = region.get("BoundingBox")
    if box is None and region.get("Polygon"):
        xs = [point.get("X", 0) for point in region["Polygon"]]
        ys = [point.get("Y", 0) for point in region["Polygon"]]
        box = {
            "Left": min(xs),
            "Top": min(ys),
            "Width": max(xs) - min(xs),
            "Height": max(ys) - min(ys),
        }
    if not isinstance(box, dict):
        raise InvalidParameterException("A region of interest needs a BoundingBox or a Polygon.")
    left, top = float(box.get("Left", 0)), float(box.get("Top", 0))
    right, bottom = left + float(box.get("Width", 0)), top + float(box.get("Height", 0))

    def inside(found: JSON) -> bool:
        x = float(found["Left"] + found["Width"] / 2)
        y = float(found["Top"] + found["Height"] / 2)
        return left <= x <= right and top <= y <= bottom

    return inside


async def detect_faces(call: Call) -> JSON:
    attributes = call.parameters.get("Attributes") or ["DEFAULT"]
    lacking = sorted(set(attributes) - FACE_ATTRIBUTES)
    if lacking:
        raise InvalidParameterException(
            f"Sightline does not detect the face attributes {', '.join(lacking)}; ask for "
            "DEFAULT or ALL (boxes, landmarks and confidences)."
        )
    faces = typed(await call.results("faces"), "faces", FacesResult)
    return {"FaceDetails": answers.face_details(faces)}


async def detect_moderation_labels(call: Call) -> JSON:
    call.refuse("HumanLoopConfig", "ProjectVersion")
    min_confidence = call.number("MinConfidence", MODERATION_MIN_CONFIDENCE, 0, 100) or 0
    adult = typed(await call.results("adult"), "adult", AdultResult)
    return {
        "ModerationLabels": [
            label
            for label in answers.moderation_labels(adult)
            if label["Confidence"] >= min_confidence
        ],
        "ModerationModelVersion": answers.model_version(adult),
        "ContentTypes": [],
    }


OPERATIONS = {
    "DetectLabels": detect_labels,
    "DetectText": detect_text,
    "DetectFaces": detect_faces,
    "DetectModerationLabels": detect_moderation_labels,
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
    parameters = _parameters(body)
    with _admission(request, principal):
        call = Call(
            parameters,
            await _image(request, parameters.get("Image")),
            principal.collection if principal and principal.collection else DEFAULT_COLLECTION,
            request,
        )
        answer = await operation(call)
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
    yield from _admitted(request, principal, Scope.WRITE)


def _parameters(body: bytes) -> JSON:
    try:
        parameters = json_input.loads(body)
    except json.JSONDecodeError as exc:
        raise SerializationException(f"The body is not JSON: {exc.msg}") from exc
    if not isinstance(parameters, dict):
        raise SerializationException("The body is not a JSON object.")
    return parameters


async def _image(request: Request, image: Any) -> bytes:
    """The image's bytes: inline (base64 in the JSON) or read from the S3 blob store."""
    if not isinstance(image, dict) or ("Bytes" in image) == ("S3Object" in image):
        raise InvalidParameterException("Image needs exactly one of Bytes and S3Object.")
    if "Bytes" in image:
        try:
            data = base64.b64decode(image["Bytes"], validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise InvalidParameterException("Image.Bytes is not base64.") from exc
        if len(data) > MAX_IMAGE_BYTES:
            raise ImageTooLargeException(
                f"Image.Bytes has {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}."
            )
        return data
    return await _s3_object(request, image["S3Object"])


async def _s3_object(request: Request, named: Any) -> bytes:
    blobs = deps.services(request).images.blobs
    if not isinstance(blobs, ObjectReader):
        raise InvalidS3ObjectException(
            "This Sightline server keeps its blobs in a folder, not S3: send the image's Bytes."
        )
    if not isinstance(named, dict) or not named.get("Bucket") or not named.get("Name"):
        raise InvalidParameterException("S3Object needs a Bucket and a Name.")
    try:
        return await run_in_threadpool(
            blobs.read_object,
            str(named["Bucket"]),
            str(named["Name"]),
            str(named["Version"]) if named.get("Version") else None,
            max_bytes=MAX_S3_OBJECT_BYTES,
        )
    except BackendError as exc:  # refused (access denied) or unreachable: Rekognition says so
        raise InvalidS3ObjectException(
            f"Unable to get object metadata from S3: {exc.message}"
        ) from exc
