"""Routes of the web app: `/` (the page), `/ui/{asset}` (its files) and `/ui/session`."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from sightline.api import auth, deps
from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import RequestBody
from sightline.errors import NotFound, TooManyAuthFailures, Unauthorized
from sightline.keys import KeyService, Principal, Scope
from sightline.keys.service import SESSION_LIFETIME

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

Keys = Annotated[KeyService, deps.part("keys")]


class SessionIn(RequestBody):
    model_config = examples(shown.SESSION_IN)

    api_key: str = Field(
        description="One of `SIGHTLINE_API_KEYS`, or a key from `sightline keys create`."
    )


class SessionOut(BaseModel):
    model_config = examples(shown.SESSION)

    auth_required: bool = Field(description="The server has API keys: the app must sign in.")
    signed_in: bool = Field(description="This browser may use the API.")
    scope: Scope | None = Field(
        None, description="What the signed-in key may do; null while the API is open."
    )

    @classmethod
    def of(cls, principal: Principal | None) -> SessionOut:
        if principal is None:
            return cls(auth_required=False, signed_in=True)
        return cls(auth_required=True, signed_in=True, scope=principal.scope)


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


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def index(request: Request) -> Response:
    return _file_response(request, "index.html")


@router.get(
    "/ui/session",
    response_model=SessionOut,
    # A key header is checked like any other: wrong keys count against the address.
    responses=documented(TooManyAuthFailures),
    summary="Whether the web app needs to sign in, and whether this browser is",
)
def get_session(request: Request) -> SessionOut:
    try:
        return SessionOut.of(auth.identify(request))
    except Unauthorized:
        return SessionOut(auth_required=True, signed_in=False)


@router.post(
    "/ui/session",
    response_model=SessionOut,
    responses=documented(Unauthorized, TooManyAuthFailures),
    summary="Sign the browser in with an API key",
    description="Sets an HttpOnly, SameSite=Strict cookie (Secure over https) that the `/v1` "
    "routes accept in place of the key, with the key's scope (so images and the event stream "
    "work in the page). The session is kept on the server: it ends when the browser signs "
    "out, after 30 days, or when its key is revoked or removed. 401 for a wrong key; wrong "
    "keys count against the address like any other (429 `TooManyAuthFailures`).",
)
def sign_in(body: SessionIn, request: Request, response: Response, keys: Keys) -> SessionOut:
    if not keys.auth_required():
        return SessionOut.of(None)
    principal = auth.check_key(request, body.api_key.strip())
    response.set_cookie(
        auth.SESSION_COOKIE,
        keys.start_session(principal),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        # The scheme is https behind a proxy only if the proxy is trusted to say so
        # (SIGHTLINE_FORWARDED_ALLOW_IPS, X-Forwarded-Proto).
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return SessionOut.of(principal)


@router.delete(
    "/ui/session",
    status_code=204,
    summary="Sign the browser out (with `everywhere=true`, every browser of its key)",
)
def sign_out(
    request: Request,
    keys: Keys,
    everywhere: Annotated[
        bool,
        Query(description="End every session signed in with this browser's key, not just its."),
    ] = False,
) -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE, "")
    principal = keys.session_principal(token) if everywhere else None
    if principal is not None:
        keys.end_sessions(principal.key_id)
    elif token:
        keys.end_session(token)
    response = Response(status_code=204)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.api_route("/ui/{name}", methods=["GET", "HEAD"], include_in_schema=False)
def asset(name: str, request: Request) -> Response:
    if not ASSET_NAME.match(name):
        raise NotFound(f"No asset {name!r}.")
    return _file_response(request, name)
