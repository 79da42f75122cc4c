"""The services every route reaches through one frozen object, and the API-key check."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, Request

from sightline.classifiers.service import ClassifierService
from sightline.errors import Unauthorized
from sightline.images.inbox import DirectUploads
from sightline.images.service import ImageService
from sightline.metrics import Metrics
from sightline.models import ModelRegistry
from sightline.search.service import SearchService
from sightline.settings import Settings
from sightline.storage.outbox import EventLog
from sightline.webhooks import SubscriptionService


@dataclass(frozen=True)
class Services:
    """Everything the routes call, built once by the composition root (`app.py`)."""

    settings: Settings
    images: ImageService
    classifiers: ClassifierService
    search: SearchService
    uploads: DirectUploads
    subscriptions: SubscriptionService
    events: EventLog
    metrics: Metrics
    models: ModelRegistry
    readiness_probes: Mapping[str, Callable[[], Any]]


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def part(name: str) -> Any:
    """A dependency on one of the services, for `Annotated[ImageService, part("images")]`."""

    def dependency(request: Request) -> Any:
        return getattr(services(request), name)

    return Depends(dependency)


def settings(request: Request) -> Settings:
    return services(request).settings


# The web app's session cookie: set by `POST /ui/session`, accepted like an API key, so that
# `<img>` and `EventSource` (which cannot send headers) work in a signed-in browser.
SESSION_COOKIE = "sightline_session"
SESSION_SECONDS = 30 * 24 * 3600
# Methods a cross-site page cannot use to change anything, so the cookie needs no origin check.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_token(key: str, issued_at: int | None = None) -> str:
    """The cookie value of a session signed in with `key` at `issued_at` (Unix seconds): the
    time and a MAC of it keyed with the API key. The cookie never holds the key, needs no
    server-side state (any replica accepts it), runs out after `SESSION_SECONDS` whatever the
    browser does, and stops working at once when its key leaves `SIGHTLINE_API_KEYS`."""
    issued = int(time.time()) if issued_at is None else issued_at
    return f"{issued}.{_session_mac(key, issued)}"


def _session_mac(key: str, issued: int) -> str:
    message = f"sightline web session v2:{issued}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def valid_session(token: str, keys: frozenset[str], now: float | None = None) -> bool:
    issued_text, _, mac = token.partition(".")
    if not (issued_text.isascii() and issued_text.isdigit() and len(issued_text) <= 12):
        return False
    issued = int(issued_text)
    age = (time.time() if now is None else now) - issued
    if not 0 <= age <= SESSION_SECONDS:
        return False
    return _matches(mac, [_session_mac(key, issued) for key in sorted(keys)])


def _matches(given: str, expected: list[str]) -> bool:
    # Compare against every value in constant time so timing tells nothing about any of them.
    found = False
    for value in expected:
        found |= hmac.compare_digest(given.encode(), value.encode())
    return found and bool(given)


def valid_api_key(given: str, keys: frozenset[str]) -> bool:
    return _matches(given, sorted(keys))


def _same_origin(request: Request) -> bool:
    """Whether a browser sent this request from one of our own pages. SameSite=Strict keeps the
    cookie from other sites, but other origins of the same site (another port, a sibling
    subdomain) could still post forms with it; browsers say where a request came from."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc == request.headers.get("host")


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
    elif valid_session(request.cookies.get(SESSION_COOKIE, ""), keys):
        if request.method in SAFE_METHODS or _same_origin(request):
            return
        raise Unauthorized(
            "A signed-in browser may change things only from the web app's own pages; other "
            "clients send the API key."
        )
    raise Unauthorized(
        "A valid API key is required: send `Authorization: Bearer KEY` or `X-API-Key: KEY`."
    )
