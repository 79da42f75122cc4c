"""`POST /v1/images:annotate`: Cloud Vision's batch annotation over REST (what
`ImageAnnotatorClient(transport="rest")` sends), answered by the same analysis as
`POST /v1/analyze` (nothing is stored). The `projects/*` and `projects/*/locations/*` forms the
SDK uses when given a `parent` are the same call.

Who may call: a Sightline key as an API key (`x-goog-api-key`, or `?key=`; Sightline's own key
headers work too), with the scope `POST /v1/analyze` needs (write), counted like a `/v1` key.
While the server has no key the facade is open, like `/v1`.

Errors of the whole request (auth, a body that is not the request, too many images) answer
`{"error": {"code", "message", "status"}}`; an image that cannot be read or a feature that
cannot run here answers `responses[i].error`, beside the other images' and features' results,
as the service does.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from sightline import json_input
from sightline.api import auth, deps
from sightline.api.images import read_body
from sightline.collection import DEFAULT_COLLECTION
from sightline.errors import PayloadTooLarge, SightlineError
from sightline.facades.google_vision import answers
from sightline.facades.google_vision.errors import Code, GoogleError, invalid, translated
from sightline.fetch import fetch_image
from sightline.images.service import ImageService
from sightline.keys import Scope
from sightline.vision.adult import AdultResult
from sightline.vision.base import ResultModel
from sightline.vision.color import ColorResult
from sightline.vision.faces import FacesResult
from sightline.vision.objects import ObjectsResult
from sightline.vision.read import ReadResult
from sightline.vision.registry import stored_result
from sightline.vision.smart_crop import SmartCropResult
from sightline.vision.tags import TagsResult

log = logging.getLogger(__name__)
router = APIRouter()
KEY_HEADER = "x-goog-api-key"
# The service's limits: 16 images a call, 40 MB of JSON.
MAX_IMAGES = 16
MAX_BODY_BYTES = 40 * 1024 * 1024
# maxResults left out (or 0): the service's default.
DEFAULT_MAX_RESULTS = 10
MISSING_KEY_MESSAGE = (
    "The request is missing a valid API key: send a Sightline API key in x-goog-api-key "
    "(client_options={'api_key': KEY}) or as ?key=."
)
JSON = dict[str, Any]


@dataclass(frozen=True)
class Asked:
    """One image's request, checked."""

    features: Mapping[str, int]  # the service's feature names → maxResults
    crop_ratios: tuple[float, ...] | None


@dataclass(frozen=True)
class Feature:
    """One of the service's features: the Sightline feature behind it, its result type, and
    how its annotations are put into the image's answer."""

    sightline: str
    result: type[ResultModel]
    annotate: Callable[[Any, int, Asked], JSON]


def _text(read: ReadResult, _limit: int, _asked: Asked) -> JSON:
    if not read.lines:
        return {}
    return {
        "textAnnotations": answers.text_annotations(read),
        "fullTextAnnotation": answers.full_text_annotation(read),
    }


FEATURES: dict[str, Feature] = {
    "LABEL_DETECTION": Feature(
        "tags",
        TagsResult,
        lambda tags, limit, _: {"labelAnnotations": answers.label_annotations(tags, limit)},
    ),
    "TEXT_DETECTION": Feature("read", ReadResult, _text),
    # Sightline reads documents and scenes with the same OCR: both answer the same.
    "DOCUMENT_TEXT_DETECTION": Feature("read", ReadResult, _text),
    "FACE_DETECTION": Feature(
        "faces",
        FacesResult,
        lambda faces, limit, _: {"faceAnnotations": answers.face_annotations(faces, limit)},
    ),
    "SAFE_SEARCH_DETECTION": Feature(
        "adult",
        AdultResult,
        lambda adult, _limit, _: {"safeSearchAnnotation": answers.safe_search_annotation(adult)},
    ),
    "IMAGE_PROPERTIES": Feature(
        "color",
        ColorResult,
        lambda color, limit, _: {
            "imagePropertiesAnnotation": answers.image_properties_annotation(color, limit)
        },
    ),
    "CROP_HINTS": Feature(
        "smart_crop",
        SmartCropResult,
        lambda crops, _limit, asked: {
            "cropHintsAnnotation": answers.crop_hints_annotation(crops, asked.crop_ratios)
        },
    ),
    "OBJECT_LOCALIZATION": Feature(
        "objects",
        ObjectsResult,
        lambda objects, limit, _: {
            "localizedObjectAnnotations": answers.localized_object_annotations(objects, limit)
        },
    ),
}
# The service's features Sightline has no model for, refused by name (numbers as the proto's
# Feature.Type: the SDK sends enums as numbers).
UNSUPPORTED = {
    "LANDMARK_DETECTION": "landmarks",
    "LOGO_DETECTION": "logos",
    "WEB_DETECTION": "web entities",
    "PRODUCT_SEARCH": "product sets",
}
TYPE_NUMBERS = {
    1: "FACE_DETECTION",
    2: "LANDMARK_DETECTION",
    3: "LOGO_DETECTION",
    4: "LABEL_DETECTION",
    5: "TEXT_DETECTION",
    6: "SAFE_SEARCH_DETECTION",
    7: "IMAGE_PROPERTIES",
    9: "CROP_HINTS",
    10: "WEB_DETECTION",
    11: "DOCUMENT_TEXT_DETECTION",
    12: "PRODUCT_SEARCH",
    19: "OBJECT_LOCALIZATION",
}


@router.post("/v1/images:annotate")
@router.post("/v1/projects/{project}/images:annotate")
@router.post("/v1/projects/{project}/locations/{location}/images:annotate")
async def annotate(request: Request) -> Response:
    try:
        with _caller(request) as collection:
            requests = _requests(await read_body(request, MAX_BODY_BYTES, PayloadTooLarge))
            images = deps.services(request).images
            responses = [await _annotate_one(images, one, collection) for one in requests]
    except GoogleError as error:
        return error.response()
    except SightlineError as error:
        answer = translated(error)
        if answer.code is Code.INTERNAL:
            log.exception("Cloud Vision facade: %s", error.message)
        return answer.response()
    return JSONResponse({"responses": responses})


@contextmanager
def _caller(request: Request) -> Iterator[str]:
    """The collection the caller analyses in, once its key is checked as `/v1` keys are."""
    if not deps.services(request).keys.auth_required():
        yield DEFAULT_COLLECTION
        return
    given = (
        request.headers.get(KEY_HEADER)
        or request.query_params.get("key")
        or auth.presented_key(request)
    )
    if not given:
        # The service's answer to a call without a key; a 401 would make the SDK's anonymous
        # credentials try to refresh themselves, and fail on that instead.
        raise GoogleError(Code.PERMISSION_DENIED, MISSING_KEY_MESSAGE)
    principal = auth.check_key(request, given)
    with contextmanager(auth.admitted)(request, principal, Scope.WRITE):
        yield principal.collection or DEFAULT_COLLECTION


def _requests(body: bytes) -> list[JSON]:
    try:
        document = json_input.loads(body)
    except json.JSONDecodeError as exc:
        raise invalid(f"Invalid JSON payload received. {exc.msg}.") from exc
    found = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(found, list) or not found:
        raise invalid('The body must be {"requests": [AnnotateImageRequest, …]}, not empty.')
    if len(found) > MAX_IMAGES:
        raise invalid(f"At most {MAX_IMAGES} images per request; this one has {len(found)}.")
    if not all(isinstance(one, dict) for one in found):
        raise invalid("Each of requests[] must be an AnnotateImageRequest object.")
    return found


async def _annotate_one(images: ImageService, request: JSON, collection: str) -> JSON:
    """One image's answer; what goes wrong with it is its `error`, not the call's."""
    try:
        asked = _asked(request, images.settings.smart_crop_aspect_ratios())
        data = await _image(images, request.get("image"))
    except GoogleError as error:
        return {"error": error.status()}
    except SightlineError as error:
        return {"error": translated(error).status()}
    available = images.analyzers(collection)
    wanted = dict.fromkeys(FEATURES[name].sightline for name in asked.features)
    try:
        analysed = await run_in_threadpool(
            images.analyze_now,
            data,
            [feature for feature in wanted if feature in available],
            collection=collection,
        )
    except SightlineError as error:
        return {"error": translated(error).status()}
    found: JSON = {}
    problems: list[GoogleError] = []
    for name, limit in asked.features.items():
        feature = FEATURES[name]
        result = _result(analysed["features"].get(feature.sightline), feature)
        if isinstance(result, GoogleError):
            problems.append(result)
        else:
            found.update(feature.annotate(result, limit, asked))
    if problems:
        # The service's answer has one error; the annotations beside it are still right.
        found["error"] = problems[0].status()
    return found


def _result(run: Mapping[str, Any] | None, feature: Feature) -> ResultModel | GoogleError:
    if run is None:
        return GoogleError(
            Code.UNIMPLEMENTED,
            f"This server does not have the {feature.sightline!r} feature "
            "(its model or extra is not installed).",
        )
    if run["status"] == "failed":
        return GoogleError(Code.INTERNAL, f"{feature.sightline}: {run['error']}")
    result = stored_result(feature.sightline, run["result"]) if run["status"] == "done" else None
    if not isinstance(result, feature.result):
        reason = run.get("error") or run["status"]
        return GoogleError(
            Code.UNIMPLEMENTED, f"The {feature.sightline!r} feature is not available: {reason}"
        )
    return result


def _asked(request: JSON, served_ratios: Sequence[float]) -> Asked:
    features: dict[str, int] = {}
    for given in request.get("features") or []:
        kind = given.get("type") if isinstance(given, dict) else None
        name = TYPE_NUMBERS.get(kind, "") if isinstance(kind, int) else str(kind or "")
        if name in UNSUPPORTED:
            raise GoogleError(
                Code.UNIMPLEMENTED,
                f"{name} is not supported: Sightline has no {UNSUPPORTED[name]}.",
            )
        if name not in FEATURES:
            raise invalid(f"Unknown feature type {kind!r}.")
        limit = given.get("maxResults") or DEFAULT_MAX_RESULTS
        if not isinstance(limit, int) or limit < 0:
            raise invalid(f"maxResults must be a positive integer, not {limit!r}.")
        features[name] = limit
    if not features:
        raise invalid("No feature requested: name at least one in features[].")
    context = request.get("imageContext") or {}
    hints = context.get("cropHintsParams") if isinstance(context, dict) else None
    ratios = (hints or {}).get("aspectRatios") if isinstance(hints, dict) else None
    return Asked(features, _crop_ratios(ratios, served_ratios))


def _crop_ratios(given: Any, served: Sequence[float]) -> tuple[float, ...] | None:
    """Crops are computed for the server's ratios (SIGHTLINE_SMART_CROP_RATIOS) only: one the
    caller names must be among them, rather than answered with none or another."""
    if not given:
        return None
    if not isinstance(given, list) or not all(isinstance(r, int | float) for r in given):
        raise invalid("imageContext.cropHintsParams.aspectRatios must be numbers.")
    asked = tuple(round(float(ratio), 2) for ratio in given)
    offered = [round(ratio, 2) for ratio in served]
    missing = [ratio for ratio in asked if ratio not in offered]
    if missing:
        raise invalid(
            f"This server crops to the aspect ratios {offered} (SIGHTLINE_SMART_CROP_RATIOS), "
            f"not {missing}."
        )
    return asked


async def _image(images: ImageService, image: Any) -> bytes:
    """The image's bytes: `content` (base64), or fetched from `source.imageUri` with the
    URL policy of `POST /v1/analyze`."""
    if not isinstance(image, dict):
        raise invalid("No image present: set image.content or image.source.")
    if image.get("content"):
        try:
            return base64.b64decode(image["content"], validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise invalid("image.content is not base64.") from exc
    source = image.get("source") or {}
    uri = (source.get("imageUri") or source.get("gcsImageUri")) if isinstance(source, dict) else ""
    if not uri:
        raise invalid("No image present: set image.content or image.source.")
    if not isinstance(uri, str) or uri.startswith("gs://"):
        raise GoogleError(
            Code.PERMISSION_DENIED,
            f"Error opening file: {uri}. This server does not read Google Cloud Storage: send "
            "the content, or an http(s) imageUri.",
        )
    settings = images.settings
    return await run_in_threadpool(
        fetch_image,
        uri,
        max_bytes=settings.max_upload_bytes,
        timeout=settings.fetch_timeout_seconds,
        allow_private=settings.fetch_allow_private,
    )
