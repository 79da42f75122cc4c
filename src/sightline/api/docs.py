"""The API's documentation pages: Swagger UI at `/docs` and ReDoc at `/redoc`, public like
`/openapi.json`. Their scripts and styles come from the installed `fastapi-offline` package
(upstream swagger-ui-dist and ReDoc builds), not from a CDN: a box with no internet shows them."""

from __future__ import annotations

import os
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
# Swagger UI would otherwise show a badge image fetched from validator.swagger.io.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
# The pages may load only from this server: ReDoc's sidebar shows Redocly's logo from their CDN,
# which the browser then never asks for. Both pages start with an inline script or style, and
# ReDoc runs its search in a worker made from a blob.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
    ]
)


class DocsAssets(StaticFiles):
    """The package's files, revalidated on every load (cheap: a 304 on their ETag), so an
    upgrade shows at once."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install(app: FastAPI) -> None:
    """Serve the two pages and their files; the app is made with `docs_url=None` and
    `redoc_url=None`, so FastAPI's CDN-loading pages are not there."""
    app.mount(ASSETS_URL, DocsAssets(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _same_origin_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} API",
                swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=favicon,
                swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _same_origin_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} API",
                redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=favicon,
                with_google_fonts=False,
            )
        )


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
