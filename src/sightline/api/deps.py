"""Request-scoped access to the application's parts, and the API-key check."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from sightline.catalog import EventLog
from sightline.classifiers.service import ClassifierService
from sightline.errors import Unauthorized
from sightline.inbox import DirectUploads
from sightline.metrics import Metrics
from sightline.models import ModelRegistry
from sightline.search.service import SemanticSearch
from sightline.service import ImageService
from sightline.settings import Settings


def service(request: Request) -> ImageService:
    found: ImageService = request.app.state.service
    return found


def classifiers(request: Request) -> ClassifierService:
    found: ClassifierService = request.app.state.classifiers
    return found


def semantic(request: Request) -> SemanticSearch:
    found: SemanticSearch = request.app.state.semantic
    return found


def direct_uploads(request: Request) -> DirectUploads:
    found: DirectUploads = request.app.state.direct_uploads
    return found


def event_log(request: Request) -> EventLog:
    found: EventLog = request.app.state.event_log
    return found


def metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found


def model_registry(request: Request) -> ModelRegistry:
    found: ModelRegistry = request.app.state.models
    return found


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


# The web app's session cookie: set by `POST /ui/session`, accepted like an API key, so that
# `<img>` and `EventSource` (which cannot send headers) work in a signed-in browser.
SESSION_COOKIE = "sightline_session"


def session_token(key: str) -> str:
    """The cookie value for a session signed in with `key`: derived from the key, so the cookie
    never holds the key itself, needs no server-side state (any replica accepts it), and stops
    working when the key is removed from `SIGHTLINE_API_KEYS`."""
    return hmac.new(key.encode(), b"sightline web session v1", hashlib.sha256).hexdigest()


def _matches(given: str, expected: list[str]) -> bool:
    # Compare against every value in constant time so timing tells nothing about any of them.
    found = False
    for value in expected:
        found |= hmac.compare_digest(given.encode(), value.encode())
    return found and bool(given)


def valid_api_key(given: str, keys: frozenset[str]) -> bool:
    return _matches(given, sorted(keys))


def require_api_key(request: Request) -> None:
    keys = settings(request).api_key_set()
    if not keys:
        return
    authorization = request.headers.get("authorization", "")
    given = request.headers.get("x-api-key") or (
        authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    )
    if given:
        if valid_api_key(given, keys):
            return
    elif _matches(request.cookies.get(SESSION_COOKIE, ""), [session_token(k) for k in keys]):
        return
    raise Unauthorized(
        "A valid API key is required: send `Authorization: Bearer KEY` or `X-API-Key: KEY`."
    )
