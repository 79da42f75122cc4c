"""Errors in Computer Vision 3.2's shape, `{"error": {"code", "message", "innererror"}}`, and
Sightline's error hierarchy mapped onto it once (`ERRORS`). The gateway's own refusals (a
wrong key, too many requests) come, as Azure's API Management sends them, with the status as
their code and no inner error."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from sightline import errors as sightline


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str  # the top-level code: InvalidRequest, InternalServerError…, or the gateway's status
    inner: str | None  # the inner error's code: InvalidImageFormat, BadArgument…


class AzureError(Exception):
    """A refusal in the service's own terms, raised by the facade itself."""

    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.message = message


def invalid(inner: str) -> Refusal:
    return Refusal(400, "InvalidRequest", inner)


BAD_ARGUMENT = invalid("BadArgument")
INVALID_IMAGE_FORMAT = invalid("InvalidImageFormat")
INVALID_IMAGE_URL = invalid("InvalidImageUrl")
INVALID_IMAGE_SIZE = invalid("InvalidImageSize")
INVALID_THUMBNAIL_SIZE = invalid("InvalidThumbnailSize")
NOT_SUPPORTED_VISUAL_FEATURE = invalid("NotSupportedVisualFeature")
NOT_SUPPORTED_FEATURE = invalid("NotSupportedFeature")
NOT_SUPPORTED_LANGUAGE = invalid("NotSupportedLanguage")
INVALID_DETAILS = invalid("InvalidDetails")
OPERATION_NOT_FOUND = Refusal(404, "NotFound", None)
FAILED_TO_PROCESS = Refusal(500, "InternalServerError", "FailedToProcess")
INTERNAL = Refusal(500, "InternalServerError", "InternalServerError")

# Sightline's errors in the service's terms: the first class of an error's MRO found here.
ERRORS: dict[type[sightline.SightlineError], Refusal] = {
    sightline.EmptyImage: INVALID_IMAGE_FORMAT,
    sightline.InvalidImageFormat: INVALID_IMAGE_FORMAT,
    sightline.PayloadTooLarge: INVALID_IMAGE_SIZE,  # ImageTooLarge, ImageDimensionsTooLarge…
    sightline.InvalidUrl: INVALID_IMAGE_URL,
    sightline.UrlNotAllowed: INVALID_IMAGE_URL,
    sightline.UrlFetchFailed: INVALID_IMAGE_URL,
    sightline.InvalidInput: BAD_ARGUMENT,
    sightline.UnsupportedMediaType: Refusal(415, "InvalidRequest", "UnsupportedMediaType"),
    sightline.LengthRequired: Refusal(411, "InvalidRequest", "BadArgument"),
    sightline.RequestTimeout: Refusal(408, "InvalidRequest", "Timeout"),
    sightline.Unauthorized: Refusal(401, "401", None),
    sightline.Forbidden: Refusal(403, "403", None),
    sightline.TooManyRequests: Refusal(429, "429", None),
    sightline.BackendError: Refusal(503, "ServiceUnavailable", None),
    sightline.SightlineError: INTERNAL,
}


def refusal_of(error: sightline.SightlineError) -> Refusal:
    return next(ERRORS[kind] for kind in type(error).__mro__ if kind in ERRORS)


def error_response(
    refusal: Refusal, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": refusal.code, "message": message}
    if refusal.inner is not None:
        body["innererror"] = {"code": refusal.inner, "message": message}
    return JSONResponse({"error": body}, status_code=refusal.status, headers=headers)


def sightline_response(error: sightline.SightlineError) -> JSONResponse:
    headers = None
    if isinstance(error, sightline.TooManyRequests):
        headers = {"Retry-After": str(error.retry_after)}
    return error_response(refusal_of(error), error.message, headers)


class AzureRoute(APIRoute):
    """A route whose every refusal, its dependencies' (the key check) included, is answered in
    the service's shape rather than `/v1`'s."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answered_in_azure_terms(request: Request) -> Response:
            try:
                return await handler(request)
            except AzureError as exc:
                return error_response(exc.refusal, exc.message)
            except sightline.SightlineError as exc:
                return sightline_response(exc)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                    for error in exc.errors()
                )
                return error_response(BAD_ARGUMENT, problems)

        return answered_in_azure_terms
