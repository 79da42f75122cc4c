"""The HTTP API: one router per resource, errors mapped in one place."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import Depends, FastAPI

from sightline import __version__
from sightline.api import (
    analyze,
    auth,
    docs,
    errors,
    events,
    faces,
    images,
    links,
    models,
    openapi_examples,
    people,
    search,
    system,
    uploads,
)
from sightline.api import classifiers as classifier_routes
from sightline.api import keys as key_routes
from sightline.api import subscriptions as subscription_routes
from sightline.api.body_timeout import BodyReadTimeout
from sightline.api.deps import Services
from sightline.api.request_ids import RequestIds

DESCRIPTION = """
Sightline stores images and analyses them with local models: upload, then read the results
by id, list, search, follow live events, fetch the original and thumbnails; train custom
classifiers on your own labelled images.

Every error answers `{"error": {"code": "...", "message": "..."}}` with a stable `code`.

Once the server has an API key (from `SIGHTLINE_API_KEYS`, which are admin keys, or made by
`sightline keys create` / `POST /v1/keys`), every `/v1` request needs one:
`Authorization: Bearer KEY` or `X-API-Key: KEY`. A key's scope decides what it may do: `read`
allows GET and HEAD, `write` every method, `admin` also `/v1/keys`, `/v1/subscriptions` and
publishing classifier versions; a key short of the scope gets 403 `InsufficientScope`. Each
operation's `security` names the scope it needs. Signed links (`GET /v1/images/{id}/links`)
open one original or thumbnail without a key until they expire.

Every answer carries `X-Request-ID`: the request's own (up to 128 letters, digits and
`._:@/+=-`) or a new one. The server's log lines for the request carry it, and so do the
events it causes (the `requestid` attribute) and the log lines of the jobs they start.
"""


def create_api(
    services: Services,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Sightline",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by `docs` from the installed package instead of FastAPI's CDN-loading pages.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    errors.install(app)
    app.add_middleware(BodyReadTimeout, seconds=services.settings.body_timeout_seconds)
    app.add_middleware(RequestIds)  # added last, so outermost: even a timed-out body has one
    # scope="request": a request stays counted in flight until its response has been sent.
    protected = [Depends(auth.authorize, scope="request")]
    app.include_router(images.router, dependencies=protected)
    app.include_router(links.router, dependencies=protected)
    app.include_router(analyze.router, dependencies=protected)
    app.include_router(models.router, dependencies=protected)
    app.include_router(classifier_routes.router, dependencies=protected)
    app.include_router(faces.router, dependencies=protected)
    app.include_router(people.router, dependencies=protected)
    app.include_router(search.router, dependencies=protected)
    app.include_router(events.router, dependencies=protected)
    app.include_router(uploads.router, dependencies=protected)
    app.include_router(subscription_routes.router, dependencies=protected)
    app.include_router(key_routes.router, dependencies=protected)
    app.include_router(system.router)
    docs.install(app)
    _complete_document(app, metrics_need_key=services.settings.metrics_require_key)
    return app


def _complete_document(app: FastAPI, *, metrics_need_key: bool) -> None:
    """Add to the OpenAPI document FastAPI makes, once, the errors each operation answers and
    the key it needs, and put back the null values of its examples. Routes included later (the
    web app's) are in it too: it is made on the first request for it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()  # kept in `app.openapi_schema`
            openapi_examples.put_back_nulls(document)
            errors.describe_errors(document, app.routes, metrics_need_key=metrics_need_key)
            auth.document_security(document, metrics_need_key=metrics_need_key)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend the document


__all__ = ["Services", "create_api"]
