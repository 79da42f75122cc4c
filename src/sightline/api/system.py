"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sightline.api import auth, deps
from sightline.api import openapi_examples as shown
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.health import readiness
from sightline.metrics import Metrics

router = APIRouter(tags=["system"], route_class=StrictJSONRoute)


class Health(BaseModel):
    model_config = examples(shown.HEALTH)

    status: Literal["ok"]


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health(status="ok")


class Readiness(BaseModel):
    model_config = examples(shown.READY)

    status: Literal["ready", "degraded", "unavailable"] = Field(
        description="`ready`: every part is ok. `degraded`: uploads are taken, but a part is "
        "not ok (the queue is down: uploads wait in the outbox, their analysis later). "
        "`unavailable` (503): uploads cannot be taken (the catalog, the blob store or the free "
        "disk space failed)."
    )
    checks: dict[str, Literal["ok", "degraded", "down"]] = Field(
        description="Each part: `catalog`, `queue`, `blobs`, `disk`; with workers in the "
        "process, `models` too (`degraded` while they warm up after start-up, uploads taken)."
    )
    reasons: dict[str, str] = Field(description="Why, for each part that is not `ok`.")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Uploads cannot be taken."}},
    summary="Readiness: this API can take uploads",
    description="200 while uploads can be taken, even with the queue down (they wait in the "
    "outbox, `status` is then `degraded`); 503 while the catalog, the blob store or the free "
    "disk space fails. Analysis workers answer their own `/readyz` (`sightline worker "
    "--http-port`).",
)
def readyz(request: Request) -> JSONResponse:
    found = readiness(deps.services(request).readiness)
    return JSONResponse(found.as_dict(), status_code=200 if found.ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/plain": {
                    "schema": {
                        "type": "string",
                        "description": "The Prometheus text exposition format, version 0.0.4.",
                        "examples": [shown.METRICS],
                    }
                }
            }
        }
    },
    dependencies=[Depends(auth.metrics_access, scope="request")],
)
def metrics(metrics: Annotated[Metrics, deps.part("metrics")]) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
