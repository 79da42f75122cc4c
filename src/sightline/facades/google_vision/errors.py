"""Failures as Google's APIs name them: a google.rpc.Status code, its name and the HTTP status it
travels with. A request-level error is `{"error": {"code", "message", "status"}}` with that HTTP
status (google-api-core turns it into `Unauthenticated`, `PermissionDenied`…); a per-image error
is `responses[i].error` = `{"code", "message"}` in a 200 answer. One table turns Sightline's
errors into them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from fastapi.responses import JSONResponse

from sightline.errors import (
    EmptyImage,
    Forbidden,
    InvalidImageFormat,
    InvalidInput,
    InvalidUrl,
    PayloadTooLarge,
    RequestTimeout,
    SightlineError,
    TooManyRequests,
    Unauthorized,
    UrlFetchFailed,
    UrlNotAllowed,
)


class Code(IntEnum):
    """google.rpc.Code values this facade answers."""

    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAUTHENTICATED = 16


HTTP_STATUS = {
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAUTHENTICATED: 401,
}


@dataclass(eq=False)  # raised, so hashed by identity and given a traceback
class GoogleError(Exception):
    code: Code
    message: str

    def status(self) -> dict[str, Any]:
        """As `responses[i].error`."""
        return {"code": int(self.code), "message": self.message}

    def response(self) -> JSONResponse:
        """As the whole request's answer."""
        error = {**self.status(), "status": self.code.name}
        return JSONResponse({"error": error}, status_code=HTTP_STATUS[self.code])


def invalid(message: str) -> GoogleError:
    return GoogleError(Code.INVALID_ARGUMENT, message)


# Sightline's errors as the service says them, the most specific first, each with the words the
# service starts its message with where clients may match them ("Bad image data.").
GOOGLE_ERRORS: tuple[tuple[type[SightlineError], Code, str | None], ...] = (
    (Unauthorized, Code.UNAUTHENTICATED, None),
    (Forbidden, Code.PERMISSION_DENIED, None),
    (TooManyRequests, Code.RESOURCE_EXHAUSTED, None),
    (EmptyImage, Code.INVALID_ARGUMENT, "Bad image data."),
    (InvalidImageFormat, Code.INVALID_ARGUMENT, "Bad image data."),
    (PayloadTooLarge, Code.INVALID_ARGUMENT, None),
    (InvalidUrl, Code.INVALID_ARGUMENT, None),
    (UrlNotAllowed, Code.PERMISSION_DENIED, None),
    (UrlFetchFailed, Code.PERMISSION_DENIED, None),
    (RequestTimeout, Code.DEADLINE_EXCEEDED, None),
    (InvalidInput, Code.INVALID_ARGUMENT, None),
)


def translated(error: SightlineError) -> GoogleError:
    for kind, code, prefix in GOOGLE_ERRORS:
        if isinstance(error, kind):
            return GoogleError(code, f"{prefix} {error.message}" if prefix else error.message)
    if error.status_code < 500:
        return invalid(error.message)
    return GoogleError(Code.INTERNAL, error.message)
