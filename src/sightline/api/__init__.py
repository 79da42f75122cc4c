"""The HTTP API: one router per resource, errors mapped in one place."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import Depends, FastAPI

from sightline import __version__
from sightline.api import analyze, errors, events, images, models, search, system, uploads
from sightline.api import classifiers as classifier_routes
from sightline.api import subscriptions as subscription_routes
from sightline.api.body_timeout import BodyReadTimeout
from sightline.api.deps import Services, require_api_key

DESCRIPTION = """
Sightline stores images and analyses them with local models: upload, then read the results
by id, list, search, follow live events, fetch the original and thumbnails; train custom
classifiers on your own labelled images.

Every error answers `{"error": {"code": "...", "message": "..."}}` with a stable `code`.
When API keys are configured, every `/v1` request needs `Authorization: Bearer KEY`
or `X-API-Key: KEY`.
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
    )
    app.state.services = services
    errors.install(app)
    app.add_middleware(BodyReadTimeout, seconds=services.settings.body_timeout_seconds)
    protected = [Depends(require_api_key)]
    app.include_router(images.router, dependencies=protected)
    app.include_router(analyze.router, dependencies=protected)
    app.include_router(models.router, dependencies=protected)
    app.include_router(classifier_routes.router, dependencies=protected)
    app.include_router(search.router, dependencies=protected)
    app.include_router(events.router, dependencies=protected)
    app.include_router(uploads.router, dependencies=protected)
    app.include_router(subscription_routes.router, dependencies=protected)
    app.include_router(system.router)
    return app


__all__ = ["Services", "create_api"]
