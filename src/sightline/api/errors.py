"""Every error leaves the API in one shape: `{"error": {"code", "message"[, "details"]}}`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.api.schemas import ErrorBody, ErrorInfo
from sightline.errors import RangeNotSatisfiable, SightlineError

log = logging.getLogger(__name__)

HTTP_CODES = {
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorInfo(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(SightlineError)
    async def sightline_error(_request: Request, exc: SightlineError) -> JSONResponse:
        # 501 is a feature this deployment lacks (e.g. direct uploads without S3), not a failure.
        if exc.status_code >= 500 and exc.status_code != 501:
            log.error("Request failed: %s", exc, exc_info=exc)
        headers = None
        if isinstance(exc, RangeNotSatisfiable):
            headers = {"Content-Range": f"bytes */{exc.details['size']}"}
        return error_response(exc.status_code, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        for error in exc.errors():
            if error.get("type") == "json_invalid":
                reason = error.get("ctx", {}).get("error")
                message = f"The request body is not valid JSON: {reason}." if reason else ""
                return error_response(
                    400, "InvalidJson", message or "The request body is not valid JSON."
                )
        summary = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
        return error_response(400, "InvalidParameter", summary, {"errors": problems})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "HttpError")
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    app.add_middleware(ContainUnexpectedErrors)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path. Starlette's 405 names only the
    methods of the first route matching the path, while `GET` and `POST /v1/images`, say, are
    two routes."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        match, _scope = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(route.methods or ())
    return sorted(methods)


class ContainUnexpectedErrors:
    """Answers an unexpected exception with the 500 error body and keeps the connection.

    Not an exception handler: Starlette raises the exception again after such a handler has
    answered, and the server then drops the connection, so that the client's next request on it
    fails too. Once a response has started, nothing can be answered any more: the exception goes
    on to the server, which ends the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            log.error("Unhandled error", exc_info=exc)
            response = error_response(500, "InternalError", "An unexpected error occurred.")
            await response(scope, receive, send)
