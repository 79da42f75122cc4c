"""Routes of the web app: `/` (the page), `/ui/{asset}` (its files) and `/ui/session`."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from sightline.api import deps
from sightline.api.errors import documented
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import RequestBody
from sightline.errors import NotFound, Unauthorized
from sightline.settings import Settings

router = APIRouter(tags=["web app"], route_class=StrictJSONRoute)
STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Only flat, plain names: nothing outside static/ can be named, whatever the request says.
ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(?:js|css|svg)$")
# The app loads nothing from elsewhere and runs no inline code, so the policy can be strict.
# Images may come from another origin: with an S3 store and presigning, originals and
# thumbnails are redirects to the bucket.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src * data: blob:",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

AppSettings = Annotated[Settings, Depends(deps.settings)]


class SessionIn(RequestBody):
    api_key: str = Field(description="One of `SIGHTLINE_API_KEYS`.")


class SessionOut(BaseModel):
    auth_required: bool = Field(description="API keys are configured: the app must sign in.")
    signed_in: bool = Field(description="This browser may use the API.")


@cache
def _asset(name: str) -> tuple[bytes, str]:
    """The file's bytes and ETag, read once per process: the files ship with the package."""
    path = STATIC / name
    if not path.is_file():
        raise NotFound(f"No asset {name!r}.")
    data = path.read_bytes()
    return data, f'"{hashlib.sha256(data).hexdigest()[:32]}"'


def _file_response(request: Request, name: str) -> Response:
    data, etag = _asset(name)
    # Revalidated on every load (cheap: a 304), so a new release is picked up at once.
    headers = {"ETag": etag, "Cache-Control": "no-cache", **PAGE_HEADERS}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    media_type = MEDIA_TYPES[Path(name).suffix]
    return Response(data, media_type=media_type, headers=headers)


def _signed_in(request: Request) -> bool:
    try:
        deps.require_api_key(request)
    except Unauthorized:
        return False
    return True


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def index(request: Request) -> Response:
    return _file_response(request, "index.html")


@router.get(
    "/ui/session",
    response_model=SessionOut,
    summary="Whether the web app needs to sign in, and whether this browser is",
)
def get_session(request: Request, settings: AppSettings) -> SessionOut:
    return SessionOut(auth_required=bool(settings.api_key_set()), signed_in=_signed_in(request))


@router.post(
    "/ui/session",
    response_model=SessionOut,
    responses=documented(Unauthorized),
    summary="Sign the browser in with an API key",
    description="Sets an HttpOnly, SameSite=Strict cookie that the `/v1` routes accept in place "
    "of the key (so images and the event stream work in the page). 401 for a wrong key.",
)
def sign_in(
    body: SessionIn, request: Request, response: Response, settings: AppSettings
) -> SessionOut:
    keys = settings.api_key_set()
    if not keys:
        return SessionOut(auth_required=False, signed_in=True)
    if not deps.valid_api_key(body.api_key.strip(), keys):
        raise Unauthorized("That API key is not valid.")
    response.set_cookie(
        deps.SESSION_COOKIE,
        deps.session_token(body.api_key.strip()),
        max_age=deps.SESSION_SECONDS,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return SessionOut(auth_required=True, signed_in=True)


@router.delete("/ui/session", status_code=204, summary="Sign the browser out")
def sign_out() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(deps.SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.api_route("/ui/{name}", methods=["GET", "HEAD"], include_in_schema=False)
def asset(name: str, request: Request) -> Response:
    if not ASSET_NAME.match(name):
        raise NotFound(f"No asset {name!r}.")
    return _file_response(request, name)
