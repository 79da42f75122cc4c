"""Request-scoped access to the application's parts, and the API-key check."""

from __future__ import annotations

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


def require_api_key(request: Request) -> None:
    keys = settings(request).api_key_set()
    if not keys:
        return
    authorization = request.headers.get("authorization", "")
    given = request.headers.get("x-api-key") or (
        authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    )
    # Compare against every key in constant time so timing tells nothing about any of them.
    if not any(hmac.compare_digest(given.encode(), key.encode()) for key in keys) or not given:
        raise Unauthorized(
            "A valid API key is required: send `Authorization: Bearer KEY` or `X-API-Key: KEY`."
        )
