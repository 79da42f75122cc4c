"""Browser tests: Playwright drives the system's Chromium (Debian `chromium`, installed by
`make install-dev`; never a browser download) against a real Sightline with real models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from conftest import RunningServer, serve
from sightline import Client
from sightline.app import Sightline
from support.browsers import CHROMIUM, CHROMIUM_ARGS, DESKTOP, Tab, web_settings

expect.set_options(timeout=20_000)


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and later tests that call `asyncio.run` would find it there.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("The browser tests need Debian's chromium: run `make install-dev`.")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One served Sightline for the browser tests (models load once); each test uses its own
    images and names."""
    app = Sightline(web_settings(tmp_path_factory.mktemp("web") / "data"))
    try:
        with serve(app) as running:
            yield running
    finally:
        app.close()


@pytest.fixture
def api(site: RunningServer) -> Iterator[Client]:
    with Client(site.url, timeout=60) as client:
        yield client


@pytest.fixture
def tab(browser: Browser, site: RunningServer) -> Iterator[Tab]:
    opened = Tab(browser, site.url, DESKTOP)
    yield opened
    opened.close()


@pytest.fixture
def page(tab: Tab) -> Page:
    return tab.page
