"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sightline.api import auth, deps
from sightline.api import openapi_examples as shown
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
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

    status: Literal["ready", "unavailable"]
    checks: dict[str, str] = Field(description="`ok`, or why the part failed, by part.")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A part failed."}},
    summary="Readiness: catalog, queue, blob store and free disk space answer",
)
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {}
    for name, probe in deps.services(request).readiness_probes.items():
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # a failing dependency is reported, not raised
            checks[name] = f"{type(exc).__name__}: {exc}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


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
