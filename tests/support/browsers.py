"""Helpers of the browser tests (tests/web): settings of the served Sightline, a browser tab
that fails on script errors, and dropping files on a page."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from conftest import TEST_SETTINGS
from sightline.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What the browser tests look at: boxes (faces), text lines (read), tags, search vectors.
WEB_FEATURES = "metadata,color,hash,thumbnail,tags,embedding,semantic,faces,read"
DESKTOP = {"width": 1280, "height": 900}


def web_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        **TEST_SETTINGS,
        "default_features": WEB_FEATURES,
        # Loopback receivers in the subscription tests.
        "webhook_allowed_networks": "127.0.0.0/8",
        "webhook_retry_delays": "0.2",
        **overrides,
    }
    # Session-scoped servers are built before the per-test environment clean-up runs.
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("SIGHTLINE_"):
                env.delenv(name)
        return Settings(data_dir=data_dir, **values)  # type: ignore[arg-type]


class Tab:
    """A fresh browser context and page, failing the test on any uncaught script error."""

    def __init__(self, browser: Browser, base_url: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, base_url=base_url)  # type: ignore[arg-type]
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def close(self) -> None:
        # Pages first: their open event streams must end before the server stops.
        self.context.close()
        assert not self.errors, self.errors


def jpeg(pixels: object, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)  # type: ignore[arg-type]
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def drop_files(page: Page, target: str, files: list[tuple[str, str, bytes]]) -> None:
    """Drop `files` (name, type, bytes) on `target` as a user would: a `drop` event carrying a
    DataTransfer made in the page."""
    payload = [
        {"name": name, "type": kind, "data": base64.b64encode(data).decode()}
        for name, kind, data in files
    ]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const file of files) {
                const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], file.name, { type: file.type }));
            }
            return transfer;
        }""",
        payload,
    )
    page.dispatch_event(target, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(target, "drop", {"dataTransfer": transfer})
