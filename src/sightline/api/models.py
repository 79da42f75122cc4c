"""`/v1/features` and `/v1/models`: what this server can compute, and with which models."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.scope import WriteCollection
from sightline.images.service import ImageService
from sightline.models import ModelRegistry

router = APIRouter(prefix="/v1", tags=["models"], route_class=StrictJSONRoute)


class FeatureInfo(BaseModel):
    name: str
    version: str = Field(description="The analyzer's version; results carry it.")
    default: bool = Field(description="Computed when a request names no features.")


class FeatureList(BaseModel):
    model_config = examples(shown.FEATURES)

    items: list[FeatureInfo]


class ModelInfo(BaseModel):
    name: str
    ready: bool
    task: str
    version: str
    license: str
    source: str
    input_size: str
    detail: str = Field(description="`ready`, or what to do to install the model.")


class ModelList(BaseModel):
    model_config = examples(shown.MODELS)

    items: list[ModelInfo]


@router.get(
    "/features",
    response_model=FeatureList,
    summary="Features this server computes",
    description="The bundled ones and the collection's custom classifiers (`custom:NAME`).",
)
def list_features(
    service: Annotated[ImageService, deps.part("images")], collection: WriteCollection
) -> FeatureList:
    defaults = set(service.defaults(collection))
    return FeatureList(
        items=[
            FeatureInfo(name=name, version=version, default=name in defaults)
            for name, version in service.feature_versions(collection).items()
        ]
    )


@router.get("/models", response_model=ModelList, summary="Known models and whether each is ready")
def list_models(registry: Annotated[ModelRegistry, deps.part("models")]) -> ModelList:
    # The server's file paths are left out (ModelInfo ignores them): not the caller's business.
    return ModelList(items=[ModelInfo(**status.as_dict()) for status in registry.status()])
