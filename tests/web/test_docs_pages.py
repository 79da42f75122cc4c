"""The API docs, `/docs` (Swagger UI) and `/redoc`, load nothing from another origin: every
file they name is served by Sightline itself."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from conftest import TEST_SETTINGS, RunningServer, serve
from sightline.app import Sightline
from sightline.settings import Settings

MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_name_only_files_the_server_serves(server: RunningServer, path: str) -> None:
    page = httpx.get(server.url + path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text
    # What the scripts themselves would fetch from elsewhere (ReDoc's logo) is blocked too.
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "img-src 'self' data:;" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 2
    for url in assets:
        assert url.startswith("/docs-assets/"), url
        asset = httpx.get(server.url + url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(MEDIA_TYPES[url[url.rindex(".") :]])
        # Revalidated on each load, so an upgrade shows at once; unchanged files cost a 304.
        assert asset.headers["cache-control"] == "no-cache"
        again = httpx.get(server.url + url, headers={"If-None-Match": asset.headers["etag"]})
        assert again.status_code == 304


def test_the_docs_stay_public_when_the_api_needs_a_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", api_keys="alpha-key-123", **TEST_SETTINGS)  # type: ignore[arg-type]
    app = Sightline(settings)
    with serve(app) as running:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js"):
            assert httpx.get(running.url + path, timeout=30).status_code == 200, path
        assert httpx.get(running.url + "/v1/images", timeout=30).status_code == 401
    app.close()
