"""The services every route reaches through one frozen object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from sightline.api.image_answers import ImageAnswers
from sightline.classifiers.service import ClassifierService
from sightline.faces.service import FaceService
from sightline.health import Component
from sightline.images.inbox import DirectUploads
from sightline.images.service import ImageService
from sightline.keys import AccessLimits, KeyService
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
    faces: FaceService
    search: SearchService
    uploads: DirectUploads
    subscriptions: SubscriptionService
    keys: KeyService
    limits: AccessLimits  # this process's counters
    events: EventLog
    metrics: Metrics
    models: ModelRegistry
    readiness: Sequence[Component]  # what taking uploads needs (health.py)
    image_answers: ImageAnswers  # finished images' encoded answers, this process's


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def part(name: str) -> Any:
    """A dependency on one of the services, for `Annotated[ImageService, part("images")]`.
    Async, as every dependency that does no I/O: FastAPI runs a sync one in a worker thread,
    a hop that costs more than a cheap request's own work."""

    async def dependency(request: Request) -> Any:
        return getattr(services(request), name)

    return Depends(dependency)


def settings(request: Request) -> Settings:
    return services(request).settings
