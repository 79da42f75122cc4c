"""Who may call what. Every `/v1` route depends on `authorize`:

- A request for an image's original or thumbnail with `signature` in its query is a signed link
  (`keys.links`): valid, it needs nothing else; altered or expired, it is refused (403).
- While the API is open (no key in SIGHTLINE_API_KEYS nor in the catalog), anything goes; a
  first key made by another process is seen within `keys.service.OPEN_RECHECK`.
- Otherwise the request presents a key (`Authorization: Bearer KEY` or `X-API-Key: KEY`), or,
  with no key header, a browser session cookie (`POST /ui/session`). A session may change
  things only from the web app's own pages.
- A key bound to a collection binds the request to it (`request.state.collection`, read by
  `api.scope`), and may not reach `/v1/keys` (keys reach every collection).
- The key's scope must cover the route (`required_scope`), then the key's request rate and
  requests in flight are counted (`keys.limits`, per process).

Wrong keys are counted per client address (`request.client`, which `sightline serve` takes from
X-Forwarded-For only from SIGHTLINE_FORWARDED_ALLOW_IPS); an address past the limit has its keys
refused unchecked (429) for a while, so guessing is slow. A missing key or a stale cookie is
no guess and is not counted.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from sightline.api import deps
from sightline.errors import (
    CollectionForbidden,
    InsufficientScope,
    InvalidSignature,
    LinkExpired,
    RateLimited,
    SightlineError,
    TooManyAuthFailures,
    TooManyConcurrentRequests,
    Unauthorized,
)
from sightline.keys import Principal, Scope, links

SESSION_COOKIE = "sightline_session"
# Methods a cross-site page cannot use to change anything, so the cookie needs no origin check.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_METHODS = frozenset({"GET", "HEAD"})
# Everything under these needs an admin key: keys themselves, and subscriptions, which hold the
# webhook signing secrets and decide where events go.
KEYS_PREFIX = "/v1/keys"
ADMIN_PREFIXES = (KEYS_PREFIX, "/v1/subscriptions")
# Single admin routes elsewhere: publishing decides what every upload and prediction uses.
ADMIN_ROUTES = frozenset({("POST", "/v1/classifiers/{key}/versions/{number}/publish")})
# Routes a signed link may open, and what each link serves (see `keys.links`).
SIGNED_ROUTES: dict[str, Callable[[Request], str]] = {
    "/v1/images/{image_id}/content": lambda _request: links.CONTENT,
    "/v1/images/{image_id}/thumbnail": lambda request: links.thumbnail(
        request.query_params.get("size", "")
    ),
}
MISSING_KEY = "A valid API key is required: send `Authorization: Bearer KEY` or `X-API-Key: KEY`."


def required_scope(method: str, path: str) -> Scope:
    """The scope a route needs, from its method and path template (`/v1/images/{image_id}`)."""
    if (method, path) in ADMIN_ROUTES or any(
        path == prefix or path.startswith(prefix + "/") for prefix in ADMIN_PREFIXES
    ):
        return Scope.ADMIN
    return Scope.READ if method in READ_METHODS else Scope.WRITE


def presented_key(request: Request) -> str:
    authorization = request.headers.get("authorization", "")
    bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    return request.headers.get("x-api-key") or bearer


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def check_key(request: Request, given: str) -> Principal:
    """The principal of `given`, counted against the client's address when wrong."""
    services = deps.services(request)
    address = client_address(request)
    services.limits.failures.check(address)
    try:
        return services.keys.authenticate(given)
    except Unauthorized:
        services.limits.failures.failed(address)
        raise


def identify(request: Request) -> Principal | None:
    """Who the request comes from; None while the API is open. `Unauthorized` without a valid
    key or session."""
    keys = deps.services(request).keys
    if not keys.auth_required():
        return None
    given = presented_key(request)
    if given:  # a key header decides, even next to a good cookie
        return check_key(request, given)
    principal = keys.session_principal(request.cookies.get(SESSION_COOKIE, ""))
    if principal is None:
        raise Unauthorized(MISSING_KEY)
    if request.method not in SAFE_METHODS and not _same_origin(request):
        raise Unauthorized(
            "A signed-in browser may change things only from the web app's own pages; other "
            "clients send the API key."
        )
    return principal


def _same_origin(request: Request) -> bool:
    """Whether a browser sent this request from one of our own pages. SameSite=Strict keeps the
    cookie from other sites, but other origins of the same site (another port, a sibling
    subdomain) could still post forms with it; browsers say where a request came from."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc == request.headers.get("host")


def admit(request: Request, principal: Principal, needed: Scope) -> Callable[[], None]:
    """Let a checked key in for one request: its scope must allow `needed`, and it is counted
    against its rate and concurrency limits until the returned function is called (`/v1` and
    the facades)."""
    if not principal.scope.allows(needed):
        raise InsufficientScope(
            f"This needs a key with the {needed.value} scope; this key has {principal.scope.value}."
        )
    limits = deps.services(request).limits
    limits.rate.take(principal.key_id)
    return limits.concurrency.enter(principal.key_id)


def admitted(request: Request, principal: Principal, needed: Scope) -> Iterator[None]:
    """`admit` for the length of a `with` block or a generator dependency."""
    leave = admit(request, principal, needed)
    try:
        yield
    finally:
        leave()


def _nothing_to_leave() -> None:
    pass


def _route_path(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", request.url.path))


async def authorize(request: Request) -> AsyncIterator[None]:
    """The dependency of every `/v1` router (with `scope="request"`: a request stays counted in
    flight until its response, streams included, has been sent). Async, with its checks (which
    may read the catalog) in one worker-thread call: a thread hop costs more CPU than a cheap
    read itself, and a sync dependency would take two (in and out). An API known to be open
    needs no read, hence no hop, unless a signed link is to be checked."""
    if _open_at_no_cost(request):
        yield
        return
    leave = await run_in_threadpool(_check, request)
    try:
        yield
    finally:
        leave()


def _open_at_no_cost(request: Request) -> bool:
    """Whether `_check` would let the request in, known without reading anything."""
    if _route_path(request) in SIGNED_ROUTES and "signature" in request.query_params:
        return False
    return deps.services(request).keys.known_open()


def _check(request: Request) -> Callable[[], None]:
    """`authorize`'s checks; what it returns ends the request's admission."""
    path = _route_path(request)
    served = SIGNED_ROUTES.get(path)
    if served is not None and "signature" in request.query_params:
        deps.services(request).keys.link_signer().verify(
            request.path_params["image_id"],
            served(request),
            request.query_params.get("expires", ""),
            request.query_params["signature"],
            time.time(),
        )
        return _nothing_to_leave
    principal = identify(request)
    if principal is None:
        return _nothing_to_leave
    if principal.collection is not None and path.startswith(KEYS_PREFIX):
        # Keys reach any collection: one bound to a collection must not make or see them.
        raise CollectionForbidden(
            f"This API key is bound to the collection {principal.collection!r}; keys are "
            "managed with a key bound to none.",
            collection=principal.collection,
        )
    request.state.collection = principal.collection  # read by `api.scope.collection_scope`
    return admit(request, principal, required_scope(request.method, path))


def metrics_access(request: Request) -> Iterator[None]:
    """`/metrics` is open unless SIGHTLINE_METRICS_REQUIRE_KEY asks for a key (any scope)."""
    principal = identify(request) if deps.settings(request).metrics_require_key else None
    if principal is None:
        yield
        return
    yield from admitted(request, principal, Scope.READ)


# -- the OpenAPI document ------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API key as bearer token."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The web app's session (`POST /ui/session`); changes only from its pages.",
    },
}
# What `metrics_access` may refuse: any scope reads the metrics.
METRICS_REFUSALS: tuple[type[SightlineError], ...] = (
    Unauthorized,
    TooManyAuthFailures,
    RateLimited,
    TooManyConcurrentRequests,
)

LINK_PARAMETERS = [
    {
        "name": "expires",
        "in": "query",
        "required": False,
        # As `keys.links` reads it: up to 12 digits.
        "schema": {"type": "integer", "minimum": 0, "maximum": 10**12 - 1},
        "description": "A signed link's expiry (Unix seconds).",
    },
    {
        "name": "signature",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "A signed link's signature; with it, no key is needed.",
    },
]


def refusals(path: str) -> list[type[SightlineError]]:
    """What `authorize` may refuse on the route at `path` (its template), for the errors of
    the OpenAPI document (`api.errors.describe_errors`)."""
    found = [*METRICS_REFUSALS, InsufficientScope]
    if path in SIGNED_ROUTES:
        found += [InvalidSignature, LinkExpired]
    if path.startswith(KEYS_PREFIX):
        found.append(CollectionForbidden)
    return found


def document_security(schema: dict[str, Any], *, metrics_need_key: bool) -> None:
    """Name in the OpenAPI document the key each operation needs: its scope as the security
    requirement's role (OpenAPI 3.1). The refusals it may answer are among its errors
    (`refusals`)."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if path.startswith("/v1/"):
                scope = required_scope(method.upper(), path).value
            elif path == "/metrics" and metrics_need_key:
                scope = Scope.READ.value
            else:
                continue
            operation["security"] = [{name: [scope]} for name in SECURITY_SCHEMES]
            if path in SIGNED_ROUTES:
                operation["security"].append({})  # a signed link needs no key
                operation.setdefault("parameters", []).extend(LINK_PARAMETERS)
                operation["description"] = (
                    operation.get("description", "")
                    + "\n\nWith `expires` and `signature` from `GET /v1/images/{image_id}/links` "
                    "no key is needed; an altered link is 403 `InvalidSignature`, an expired "
                    "one 403 `LinkExpired`."
                ).strip()
