"""Every error leaves the API in one shape: `{"error": {"code", "message"[, "details"]}}`.

The OpenAPI document says which errors each operation answers, from the same classes: a route
names the domain errors it raises (`responses=documented(ImageNotFound, ...)`), and those every
route of a kind answers are added from the route itself (`describe_errors`): from its
parameters and body, and from its dependencies (the access check's refusals, `api.auth`; the
collection scope's, `api.scope`). Each status lists its possible codes; FastAPI's own 422
`HTTPValidationError`, never sent (validation errors are 400 `InvalidParameter` here), is left
out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.api import auth
from sightline.api.schemas import ErrorBody, ErrorInfo
from sightline.api.scope import collection_scope, read_collection, write_collection
from sightline.errors import (
    BackendError,
    CollectionForbidden,
    InvalidCollection,
    InvalidJson,
    InvalidParameter,
    RangeNotSatisfiable,
    RequestTimeout,
    SightlineError,
    TooManyRequests,
)

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


ERROR_BODY_REF = f"#/components/schemas/{ErrorBody.__name__}"
NEVER_SENT = {"$ref": "#/components/schemas/HTTPValidationError"}
# Headers that come with every error of a status (see `install`).
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    416: {
        "Content-Range": {
            "description": "`bytes */SIZE`: the size of what was asked for.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer"},
        }
    },
}


def documented(*errors: type[SightlineError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that raises `errors`: for each status, the error body with
    the codes it may carry."""
    codes: dict[int, list[str]] = {}
    for error in errors:
        known = codes.setdefault(error.status_code, [])
        if error.code not in known:
            known.append(error.code)
    return {status: _error_response(status, found) for status, found in sorted(codes.items())}


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    code_schema = {"properties": {"error": {"properties": {"code": {"enum": codes}}}}}
    response: dict[str, Any] = {
        "description": _description(status, codes),
        "content": {
            "application/json": {"schema": {"allOf": [{"$ref": ERROR_BODY_REF}, code_schema]}}
        },
    }
    if status in ERROR_HEADERS:
        response["headers"] = ERROR_HEADERS[status]
    return response


def _description(status: int, codes: list[str]) -> str:
    return f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{code}`" for code in codes)


def describe_errors(
    document: dict[str, Any], routes: list[BaseRoute], *, metrics_need_key: bool
) -> None:
    """Add to each operation of `document` the errors that come with the kind of route it is,
    and drop the validation error shape FastAPI documents but this API never sends.
    `metrics_need_key`: whether `/metrics` asks for a key (SIGHTLINE_METRICS_REQUIRE_KEY)."""
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            responses = operation["responses"]
            if _schema(responses.get("422", {})) == NEVER_SENT:
                del responses["422"]
            errors = _route_errors(route, operation, metrics_need_key=metrics_need_key)
            for status, response in documented(*errors).items():
                declared = responses.setdefault(str(status), response)
                if declared is not response:  # the route's own codes for this status, and these
                    codes = _codes(declared)
                    codes.extend(code for code in _codes(response) if code not in codes)
                    declared["description"] = _description(int(status), codes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    error_body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_body.pop("$defs"))
    schemas[ErrorBody.__name__] = error_body


def _route_errors(
    route: Any, operation: dict[str, Any], *, metrics_need_key: bool
) -> list[type[SightlineError]]:
    errors: list[type[SightlineError]] = [SightlineError]  # 500: whatever nobody expected
    calls = _dependencies(route.dependant)
    if auth.authorize in calls:
        errors.extend(auth.refusals(route.path_format))
    if auth.metrics_access in calls and metrics_need_key:
        errors.extend(auth.METRICS_REFUSALS)
    if calls & {read_collection, write_collection}:  # the `collection` parameter
        errors.append(InvalidCollection)
    if collection_scope in calls:  # a caller bound to one collection reaching beyond it
        errors.append(CollectionForbidden)
    if operation.get("parameters") or route.body_field is not None:
        errors.append(InvalidParameter)
    if route.body_field is not None:
        errors.append(InvalidJson)
    if "requestBody" in operation:
        errors.append(RequestTimeout)
    return errors


def _dependencies(dependant: Dependant) -> set[Any]:
    """Every callable the route depends on, however deep: the route's own function too."""
    found: set[Any] = {dependant.call}
    for inner in dependant.dependencies:
        found |= _dependencies(inner)
    return found


def _schema(response: dict[str, Any]) -> Any:
    return response.get("content", {}).get("application/json", {}).get("schema")


def _codes(response: dict[str, Any]) -> list[str]:
    schema = _schema(response)["allOf"][1]
    found: list[str] = schema["properties"]["error"]["properties"]["code"]["enum"]
    return found


def install(app: FastAPI) -> None:
    @app.exception_handler(SightlineError)
    async def sightline_error(_request: Request, exc: SightlineError) -> JSONResponse:
        # 501 is a feature this deployment lacks (e.g. direct uploads without S3), not a failure.
        if isinstance(exc, BackendError):
            # A backend away for a while (a restart, a lock held too long): the client is told
            # 503 and retries; one line with the reason, not a traceback per request.
            log.warning("Request failed: %s", exc.message)
        elif exc.status_code >= 500 and exc.status_code != 501:
            log.error("Request failed: %s", exc, exc_info=exc)
        headers = None
        if isinstance(exc, RangeNotSatisfiable):
            headers = {"Content-Range": f"bytes */{exc.details['size']}"}
        elif isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, RequestTimeout):
            # The rest of the body may still come: the connection cannot carry another request.
            headers = {"Connection": "close"}
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
                    InvalidJson.status_code,
                    InvalidJson.code,
                    message or "The request body is not valid JSON.",
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
