"""`POST /v1/analyze`: analyse one image and answer inline, storing nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from sightline.api import deps
from sightline.api.errors import documented
from sightline.api.images import (
    DECODE_ERRORS,
    READ_ERRORS,
    read_body,
    read_uploads,
    split_features,
)
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import RAW_IMAGE, AnalyzeOut, AnalyzeUrlRequest, standalone_schema
from sightline.api.scope import WriteCollection
from sightline.errors import (
    InvalidFeature,
    InvalidJson,
    InvalidParameter,
    InvalidUrl,
    PayloadTooLarge,
    TooManyFiles,
    UrlFetchFailed,
    UrlNotAllowed,
)
from sightline.fetch import fetch_image
from sightline.images.service import ImageService

router = APIRouter(prefix="/v1", tags=["analyze"], route_class=StrictJSONRoute)
MAX_JSON_BYTES = 64 * 1024
Service = Annotated[ImageService, deps.part("images")]

ANALYZE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "features": {"type": "string", "description": "Comma-separated."},
                    },
                }
            },
            "image/*": RAW_IMAGE,
            "application/json": {"schema": standalone_schema(AnalyzeUrlRequest)},
        },
    }
}


@router.post(
    "/analyze",
    response_model=AnalyzeOut,
    response_model_exclude_none=False,
    responses=documented(
        *READ_ERRORS,
        *DECODE_ERRORS,
        InvalidFeature,
        InvalidJson,
        InvalidUrl,
        UrlNotAllowed,
        UrlFetchFailed,
    ),
    openapi_extra=ANALYZE_BODY,
    summary="Analyse one image now; nothing is stored",
    description=(
        "Send one image as `multipart/form-data`, as raw `image/*` bytes, or as JSON "
        '`{"url": "https://…"}`; the results come back in the response and nothing is kept. '
        "URLs on loopback, private or link-local addresses are refused unless the operator "
        "sets `SIGHTLINE_FETCH_ALLOW_PRIVATE`. Custom classifiers (`custom:NAME`) are the "
        "collection's."
    ),
)
async def analyze(
    request: Request,
    service: Service,
    collection: WriteCollection,
    features: Annotated[
        list[str] | None,
        Query(description="Features, comma-separated or repeated; default: the server's set."),
    ] = None,
) -> dict[str, Any]:
    settings = service.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = _url_request(await read_body(request, MAX_JSON_BYTES, PayloadTooLarge))
        data = await run_in_threadpool(
            fetch_image,
            body.url,
            max_bytes=settings.max_upload_bytes,
            timeout=settings.fetch_timeout_seconds,
            allow_private=settings.fetch_allow_private,
        )
        requested = features or body.features
    else:
        uploads, form_features, _metadata = await read_uploads(request, service, max_files=1)
        if not uploads:
            raise InvalidParameter("The request contains no file.")
        if len(uploads) > 1:
            raise TooManyFiles(f"Send one image to analyse, not {len(uploads)}.")
        data, requested = uploads[0].data, features or form_features or None
    return await run_in_threadpool(
        service.analyze_now, data, split_features(requested), collection=collection
    )


def _url_request(raw: bytes) -> AnalyzeUrlRequest:
    try:
        return AnalyzeUrlRequest.model_validate_json(raw)
    except ValidationError as exc:  # answered like every other invalid request body
        raise RequestValidationError(exc.errors()) from exc
