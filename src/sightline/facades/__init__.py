"""The cloud vision services' REST contracts, answered by Sightline: code written for Azure AI
Vision (Image Analysis 4.0, Computer Vision 3.2), Azure Custom Vision, AWS Rekognition and
Google Cloud Vision works with only its endpoint changed. Each facade is one module with a
router; it maps requests and answers onto the same services as `/v1` (no analysis of its own),
authenticates with Sightline keys (scopes apply) and answers errors in its service's own shape.
Facade routes are not in Sightline's OpenAPI document: their contract is the service's."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from sightline.facades import (
    azure_cv,
    azure_image_analysis,
    custom_vision,
    google_vision,
    rekognition,
)
from sightline.facades.azure_cv.reads import ReadOperations
from sightline.facades.custom_vision.tags import TagStore

# Each facade adds its router here.
ROUTERS: tuple[APIRouter, ...] = (
    azure_image_analysis.router,
    azure_cv.router,
    custom_vision.router,
    rekognition.router,
    google_vision.router,
)


@dataclass(frozen=True)
class FacadeStores:
    """What the facades keep in the catalog, so that every API replica answers alike."""

    custom_vision_tags: TagStore
    read_operations: ReadOperations


def install(app: FastAPI, stores: FacadeStores) -> None:
    app.state.custom_vision_tags = stores.custom_vision_tags  # read by custom_vision.routes
    app.state.read_operations = stores.read_operations  # read by azure_cv.routes
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
