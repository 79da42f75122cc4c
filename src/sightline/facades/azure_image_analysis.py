"""Azure AI Vision Image Analysis 4.0: `POST /computervision/imageanalysis:analyze`.

Code written for the service (the `azure-ai-vision-imageanalysis` SDK, or REST calls) works with
only its endpoint changed. The request is mapped onto `ImageService.analyze_now`, the same call
as `POST /v1/analyze`, and the typed results onto the service's answer:

    tags → tagsResult   objects → objectsResult   read → readResult (one block)
    people → peopleResult   smart_crop → smartCropsResult   the picture → metadata

Captions (`caption`, `denseCaptions`) need a captioning model Sightline does not have: they are
refused with the service's own `NotSupportedVisualFeature`, never answered empty. The key comes
in `Ocp-Apim-Subscription-Key` and is a Sightline key, which needs the scope `POST /v1/analyze`
needs (write). Errors leave in the service's envelope, `{"error": {"code", "message",
"innererror": {"code", "message"}}}`, mapped from Sightline's errors in one table
(`AZURE_ERRORS`); docs/compat/azure-image-analysis.md lists what is and is not supported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from sightline import __version__
from sightline.api import auth, deps
from sightline.api.images import read_body
from sightline.collection import DEFAULT_COLLECTION
from sightline.errors import (
    EmptyImage,
    Forbidden,
    ImageTooLarge,
    InvalidImageFormat,
    InvalidInput,
    InvalidUrl,
    PayloadTooLarge,
    RequestTimeout,
    SightlineError,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    UrlFetchFailed,
    UrlNotAllowed,
)
from sightline.fetch import fetch_image
from sightline.images.service import ImageService
from sightline.keys import Scope

API_VERSIONS = frozenset({"2023-10-01", "2024-02-01"})
KEY_HEADER = "ocp-apim-subscription-key"
MAX_JSON_BYTES = 64 * 1024
# The service's names (matched without regard to case, as the service does) → Sightline's.
FEATURES = {
    "tags": "tags",
    "objects": "objects",
    "read": "read",
    "people": "people",
    "smartcrops": "smart_crop",
}
CAPTIONS = frozenset({"caption", "densecaptions"})
# The service crops only to ratios in this range (its documented limit), to two decimals.
MIN_CROP_RATIO, MAX_CROP_RATIO = 0.75, 1.8
# Both answer what the service answers when asked for a model by name: Sightline has one.
MODEL_VERSIONS = frozenset({"latest"})


@dataclass(eq=False)  # raised, so hashed by identity and given a traceback
class AzureError(Exception):
    """An answer in the service's error envelope. `inner` is None where the service's gateway
    answers (401, 403, 429: `code` is the status, as a string)."""

    status: int
    code: str
    message: str
    inner: str | None = None

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner is not None:
            error["innererror"] = {"code": self.inner, "message": self.message}
        return JSONResponse({"error": error}, status_code=self.status, headers=headers)


def invalid(inner: str, message: str) -> AzureError:
    return AzureError(400, "InvalidRequest", message, inner)


# Sightline's errors as the service says them: (status, code, innererror code), the most
# specific class first. Codes not listed here fall back on their status (`azure_error`).
AZURE_ERRORS: tuple[tuple[type[SightlineError], int, str, str | None], ...] = (
    (Unauthorized, 401, "401", None),
    (Forbidden, 403, "403", None),
    (TooManyRequests, 429, "429", None),
    (EmptyImage, 400, "InvalidRequest", "InvalidImageSize"),
    (InvalidImageFormat, 400, "InvalidRequest", "InvalidImageFormat"),
    (InvalidUrl, 400, "InvalidRequest", "InvalidImageUrl"),
    (UrlNotAllowed, 400, "InvalidRequest", "InvalidImageUrl"),
    (UrlFetchFailed, 400, "InvalidRequest", "InvalidImageUrl"),
    (ImageTooLarge, 400, "InvalidRequest", "InvalidImageSize"),
    (PayloadTooLarge, 400, "InvalidRequest", "InvalidImageSize"),
    (UnsupportedMediaType, 415, "InvalidRequest", "UnsupportedMediaType"),
    (RequestTimeout, 408, "InvalidRequest", "Timeout"),
    (InvalidInput, 400, "InvalidRequest", "BadArgument"),
)
UNAUTHORIZED_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint: send a Sightline API "
    "key in Ocp-Apim-Subscription-Key."
)


def azure_error(exc: SightlineError) -> AzureError:
    for kind, status, code, inner in AZURE_ERRORS:
        if isinstance(exc, kind):
            message = UNAUTHORIZED_MESSAGE if status == 401 else exc.message
            return AzureError(status, code, message, inner)
    if exc.status_code < 500:
        return invalid("BadArgument", exc.message)
    return AzureError(exc.status_code, "InternalServerError", exc.message, "InternalServerError")


class AzureRoute(APIRoute):
    """Every error of the route, its dependencies' included, in the service's envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def in_azure_shape(request: Request) -> Response:
            try:
                return await handler(request)
            except AzureError as exc:
                return exc.response()
            except SightlineError as exc:
                headers = None
                if isinstance(exc, TooManyRequests):
                    headers = {"Retry-After": str(exc.retry_after)}
                return azure_error(exc).response(headers)
            except RequestValidationError as exc:
                problems = "; ".join(str(error["msg"]) for error in exc.errors())
                return invalid("BadArgument", problems).response()

        return in_azure_shape


router = APIRouter(route_class=AzureRoute)
Service = Annotated[ImageService, deps.part("images")]


def subscription(request: Request) -> Iterator[str]:
    """The collection the caller analyses in (its custom classifiers are that collection's),
    once its key is checked as `api.auth` checks `/v1` keys: same scope as `POST /v1/analyze`,
    same counting of wrong keys, same rate and concurrency limits."""
    if not deps.services(request).keys.auth_required():
        yield DEFAULT_COLLECTION
        return
    given = request.headers.get(KEY_HEADER, "")
    if not given:
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    principal = auth.check_key(request, given)
    with contextmanager(auth.admitted)(request, principal, Scope.WRITE):
        yield principal.collection or DEFAULT_COLLECTION


@dataclass(frozen=True)
class Options:
    """The query, checked as the service checks it."""

    features: tuple[str, ...]  # Sightline's names
    crop_ratios: tuple[float, ...] | None


def options(request: Request) -> Options:
    query = request.query_params
    api_version = query.get("api-version")
    if api_version not in API_VERSIONS:
        # What the service's gateway answers for a version it does not serve.
        raise AzureError(
            404,
            "404",
            f"Resource not found: api-version must be one of {', '.join(sorted(API_VERSIONS))}.",
        )
    names = [name.strip() for value in query.getlist("features") for name in value.split(",")]
    names = [name for name in names if name]
    if not names:
        raise invalid("BadArgument", "The features parameter must name at least one feature.")
    for name in names:
        if name.lower() in CAPTIONS:
            raise invalid(
                "NotSupportedVisualFeature",
                f"The feature {name!r} is not supported: Sightline has no captioning model.",
            )
        if name.lower() not in FEATURES:
            raise invalid("NotSupportedVisualFeature", f"The feature {name!r} is not valid.")
    language = query.get("language", "en")
    if language.lower() != "en":
        raise invalid(
            "NotSupportedLanguage", f"The language {language!r} is not supported: only 'en' is."
        )
    if query.get("gender-neutral-caption", "false").lower() not in {"true", "false"}:
        raise invalid("BadArgument", "gender-neutral-caption must be true or false.")
    model_version = query.get("model-version", "latest")
    if model_version.lower() not in MODEL_VERSIONS:
        raise invalid(
            "InvalidModel", f"The model version {model_version!r} is not supported: 'latest' is."
        )
    features = tuple(dict.fromkeys(FEATURES[name.lower()] for name in names))
    return Options(features, _crop_ratios(query.get("smartcrops-aspect-ratios")))


def _crop_ratios(given: str | None) -> tuple[float, ...] | None:
    if given is None:
        return None
    try:
        ratios = tuple(round(float(part), 2) for part in given.split(","))
    except ValueError:
        raise invalid("BadArgument", f"{given!r} is not a list of aspect ratios.") from None
    if not all(MIN_CROP_RATIO <= ratio <= MAX_CROP_RATIO for ratio in ratios):
        raise invalid(
            "BadArgument",
            f"Aspect ratios must be between {MIN_CROP_RATIO} and {MAX_CROP_RATIO}.",
        )
    return ratios


@router.post("/computervision/imageanalysis:analyze")
async def analyze(
    request: Request,
    service: Service,
    collection: Annotated[str, Depends(subscription)],
    asked: Annotated[Options, Depends(options)],
) -> dict[str, Any]:
    settings = service.settings
    _served_crop_ratios(asked.crop_ratios, settings.smart_crop_aspect_ratios())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        url = _image_url(await read_body(request, MAX_JSON_BYTES, PayloadTooLarge))
        data = await run_in_threadpool(
            fetch_image,
            url,
            max_bytes=settings.max_upload_bytes,
            timeout=settings.fetch_timeout_seconds,
            allow_private=settings.fetch_allow_private,
        )
    else:
        data = await read_body(request, settings.max_upload_bytes)
    analysed = await run_in_threadpool(
        service.analyze_now, data, list(asked.features), collection=collection
    )
    return answer(analysed, asked)


def _served_crop_ratios(asked: Sequence[float] | None, served: Sequence[float]) -> None:
    """Crops are computed for the server's ratios (SIGHTLINE_SMART_CROP_RATIOS) only: one the
    caller names must be among them, rather than answered with another."""
    missing = [ratio for ratio in asked or () if ratio not in {round(r, 2) for r in served}]
    if missing:
        raise invalid(
            "BadArgument",
            f"This server crops to the aspect ratios {[round(r, 2) for r in served]} "
            f"(SIGHTLINE_SMART_CROP_RATIOS), not {missing}.",
        )


def _image_url(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        raise invalid("BadArgument", "The request body is not valid JSON.") from None
    url = parsed.get("url") if isinstance(parsed, dict) else None
    if not isinstance(url, str):
        raise invalid("InvalidImageUrl", 'The body must be {"url": "…"}.')
    return url


def answer(analysed: Mapping[str, Any], asked: Options) -> dict[str, Any]:
    """The service's answer from `analyze_now`'s; a feature that did not finish is an error,
    never an empty result."""
    image = analysed["image"]
    found: dict[str, Any] = {
        "modelVersion": f"sightline-{__version__}",
        "metadata": {"width": image["width"], "height": image["height"]},
    }
    for feature in asked.features:
        run = analysed["features"][feature]
        if run["status"] == "failed":
            raise AzureError(500, "InternalServerError", str(run["error"]), "FailedToProcess")
        if run["status"] != "done":
            raise invalid("NotSupportedImage", str(run["error"] or run["status"]))
        key, values = RESULTS[feature](run["result"], asked)
        found[key] = values
    return found


def _tags(result: Mapping[str, Any], _asked: Options) -> tuple[str, Any]:
    return "tagsResult", {
        "values": [_label(tag["name"], tag["confidence"]) for tag in result["tags"]]
    }


def _objects(result: Mapping[str, Any], _asked: Options) -> tuple[str, Any]:
    values = [
        {"boundingBox": found["box"], "tags": [_label(found["label"], found["confidence"])]}
        for detector in result["detectors"]
        for found in detector["objects"]
    ]
    return "objectsResult", {"values": values}


def _read(result: Mapping[str, Any], _asked: Options) -> tuple[str, Any]:
    lines = [
        {
            "text": line["text"],
            "boundingPolygon": line["polygon"],
            "words": [
                {
                    "text": word["text"],
                    "boundingPolygon": word["polygon"],
                    "confidence": word["confidence"],
                }
                for word in line["words"]
            ],
        }
        for line in result["lines"]
    ]
    # The service groups lines into blocks; Sightline finds no blocks: all lines are one.
    return "readResult", {"blocks": [{"lines": lines}] if lines else []}


def _people(result: Mapping[str, Any], _asked: Options) -> tuple[str, Any]:
    values = [
        {"boundingBox": person["box"], "confidence": person["confidence"]}
        for person in result["people"]
    ]
    return "peopleResult", {"values": values}


def _smart_crops(result: Mapping[str, Any], asked: Options) -> tuple[str, Any]:
    values = [
        {"aspectRatio": round(crop["aspect_ratio"], 2), "boundingBox": crop["box"]}
        for crop in result["crops"]
        if asked.crop_ratios is None or round(crop["aspect_ratio"], 2) in asked.crop_ratios
    ]
    return "smartCropsResult", {"values": values}


def _label(name: str, confidence: float) -> dict[str, Any]:
    return {"name": name, "confidence": confidence}


RESULTS: dict[str, Callable[[Mapping[str, Any], Options], tuple[str, Any]]] = {
    "tags": _tags,
    "objects": _objects,
    "read": _read,
    "people": _people,
    "smart_crop": _smart_crops,
}
