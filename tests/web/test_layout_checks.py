"""Every page of the web app, on a phone (375 px) and a desktop (1440 px) screen, in the light
and the dark theme: nothing scrolls sideways, and every visible text meets WCAG AA contrast
against what is behind it.

With SIGHTLINE_SCREENSHOTS=<folder> (docs/screenshots for the README) the light-theme visits
also save screenshots of the main pages there."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from skimage import data as samples

from conftest import RunningServer, serve
from sightline import Client
from sightline.app import Sightline
from support.browsers import WEB_FEATURES, jpeg, png, web_settings
from support.documents import memo, receipt
from support.faces import wait_grouped
from support.garments import garment
from support.pagechecks import low_contrast, overflow
from support.receivers import Receiver

# Read when the module loads: every test's environment is cleared of SIGHTLINE_* variables.
SCREENSHOTS = os.environ.get("SIGHTLINE_SCREENSHOTS")
PHONE = {"width": 375, "height": 740}
WIDE = {"width": 1440, "height": 900}
SCREENS = {"375": PHONE, "1440": WIDE}
KEY = "checks-key-0123456789"
UNKNOWN_ENDPOINT = "https://example.invalid/hooks"


@dataclass(frozen=True)
class Seeded:
    """What the pages show: a photo with a face (known as a person), another face in a group
    nobody named, a trained classifier, a subscription with deliveries."""

    face_id: str
    person_id: str
    cluster_id: str
    classifier: str
    subscription_id: str


@dataclass(frozen=True)
class Screen:
    """A page of the app: where it is (given what was seeded), which server serves it, and
    what is on screen once it has rendered."""

    route: Callable[[Seeded], str]
    ready: str
    on: str = "site"  # "site": the seeded server; "guarded": an empty one needing API keys
    signed_in: bool = True
    screenshot: str | None = None  # its file name under SIGHTLINE_SCREENSHOTS
    act: Callable[[Page], None] | None = None  # what a user does first


def submit_an_unknown_endpoint(page: Page) -> None:
    page.get_by_label("Endpoint URL").fill(UNKNOWN_ENDPOINT)
    page.get_by_role("button", name="Create subscription").click()


SCREENS_OF_THE_APP = {
    "gallery": Screen(lambda _: "/", ".card img", screenshot="gallery"),
    "search results": Screen(lambda _: "/#/?q=cat", ".card img", screenshot="search"),
    "image page": Screen(
        lambda seeded: f"/#/images/{seeded.face_id}", ".layer-faces rect.shape", screenshot="image"
    ),
    "people": Screen(lambda _: "/#/people", ".person-card img.face-img"),
    "person page": Screen(lambda seeded: f"/#/people/{seeded.person_id}", ".mini-card img"),
    "review faces": Screen(lambda _: "/#/people/review?all=1", ".cluster-card img.face-img"),
    "group of faces": Screen(
        lambda seeded: f"/#/people/clusters/{seeded.cluster_id}", ".face-tile img.face-img"
    ),
    "classifiers list": Screen(lambda seeded: "/#/classifiers", "main h1"),
    "new classifier form": Screen(lambda _: "/#/classifiers?new=1", "form.form-panel"),
    "trained classifier": Screen(
        lambda seeded: f"/#/classifiers/{seeded.classifier}",
        "svg.chart.confusion",
        screenshot="classifier",
    ),
    "subscriptions list": Screen(lambda _: "/#/subscriptions", "main .list-card"),
    "new subscription form": Screen(lambda _: "/#/subscriptions?new=1", "form.form-panel"),
    "subscription form with an error": Screen(
        lambda _: "/#/subscriptions?new=1", ".field-error", act=submit_an_unknown_endpoint
    ),
    "subscription with deliveries": Screen(
        lambda seeded: f"/#/subscriptions/{seeded.subscription_id}", "table.deliveries tbody tr"
    ),
    "sign-in": Screen(lambda _: "/", "#api-key", on="guarded", signed_in=False),
    "empty gallery": Screen(lambda _: "/", ".state.empty", on="guarded"),
    "empty classifiers": Screen(lambda _: "/#/classifiers", ".state.empty", on="guarded"),
    "no people": Screen(lambda _: "/#/people", ".state.empty", on="guarded"),
    "empty subscriptions": Screen(lambda _: "/#/subscriptions", ".state.empty", on="guarded"),
    "not found": Screen(lambda _: "/#/nowhere", ".state.empty"),
}

# The README shows every screenshot page on a desktop screen, and the gallery on a phone too.
SCREENSHOT_WIDTHS = {"gallery": ("1440", "375")}


def _cases(themes: tuple[str, ...]) -> Iterator[object]:
    for name in SCREENS_OF_THE_APP:
        for width in SCREENS:
            for theme in themes:
                yield pytest.param(name, width, theme, id=f"{name}-{width}-{theme}")


def faces_in(site: RunningServer, image_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{site.url}/v1/faces", params={"image_id": image_id}, timeout=60)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def name_the_face(site: RunningServer, image_id: str, name: str) -> str:
    (face,) = faces_in(site, image_id)
    body = {"name": name, "face_ids": [face["id"]]}
    answer = httpx.post(f"{site.url}/v1/people", json=body, timeout=60)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest.fixture(scope="module")
def seeded(site: RunningServer) -> Iterator[Seeded]:
    receiver = Receiver()
    try:
        with Client(site.url, timeout=60) as api:
            # The photos after the garments: newest first, they lead the gallery.
            garments = {
                kind: api.upload_many(
                    [garment(kind, seed) for seed in range(6)],
                    features=["thumbnail", "embedding"],
                )
                for kind in ("dress", "shirt")
            }
            face = api.upload(
                jpeg(samples.astronaut()),
                filename="astronaut.jpg",
                features=[*WEB_FEATURES.split(","), "face_embedding"],
            )
            stranger = api.upload(
                jpeg(samples.camera()),
                filename="cameraman.jpg",
                features=["faces", "face_embedding", "thumbnail"],
            )
            others = [
                api.upload(jpeg(samples.chelsea()), filename="tabby.jpg"),
                api.upload(jpeg(samples.coffee()), filename="coffee.jpg"),
                api.upload(png(receipt().image), filename="receipt.png"),
                api.upload(png(memo().image), filename="memo.png"),
            ]
            for image in [
                face,
                stranger,
                *others,
                *(i for group in garments.values() for i in group),
            ]:
                api.wait(image["id"])
            for grouped in (face, stranger):
                wait_grouped(site.url, grouped["id"])
            person_id = name_the_face(site, face["id"], "Eileen")
            (unnamed,) = faces_in(site, stranger["id"])
            api.create_classifier("garments", description="Dresses and shirts")
            api.add_examples(
                "garments",
                [(image["id"], kind) for kind, images in garments.items() for image in images],
            )
            api.train("garments")
            assert api.wait_for_version("garments", 1)["status"] == "ready"
            subscription = api.create_subscription(
                receiver.url, name="photo-hooks", event_types=["sightline.image.analyzed"]
            )
            # Its delivery (rejected once: a dead letter) shows on the subscription's page.
            api.upload(jpeg(samples.rocket()), filename="rocket.jpg", features=["thumbnail"])
        yield Seeded(face["id"], person_id, unnamed["cluster_id"], "garments", subscription["id"])
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    app = Sightline(web_settings(tmp_path_factory.mktemp("guarded") / "data", api_keys=KEY))
    try:
        with serve(app) as running:
            yield running
    finally:
        app.close()


@contextmanager
def visit(
    browser: Browser,
    servers: dict[str, RunningServer],
    seeded: Seeded,
    name: str,
    width: str,
    theme: str,
) -> Iterator[Page]:
    """The page rendered in a fresh browser context; fails on any script error in it."""
    screen = SCREENS_OF_THE_APP[name]
    server = servers[screen.on]
    context = browser.new_context(
        viewport=SCREENS[width],  # type: ignore[arg-type]
        base_url=server.url,
        color_scheme=theme,  # type: ignore[arg-type]
        reduced_motion="reduce",
    )
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        if screen.on == "guarded" and screen.signed_in:
            answer = context.request.post(f"{server.url}/ui/session", data={"api_key": KEY})
            assert answer.ok, answer.text()
        page.goto(screen.route(seeded))
        if screen.act:
            screen.act(page)
        expect(page.locator(screen.ready).first).to_be_visible(timeout=30_000)
        page.evaluate("document.fonts.ready")
        shot = screen.screenshot
        if (
            SCREENSHOTS
            and shot
            and theme == "light"
            and width in SCREENSHOT_WIDTHS.get(name, ("1440",))
        ):
            shoot(page, Path(SCREENSHOTS) / f"{shot}-{width}.jpg")
        yield page
    finally:
        context.close()
    assert not errors, errors


def shoot(page: Page, path: Path) -> None:
    """A JPEG of the screen once the pictures on it have loaded."""
    page.wait_for_function(
        """() => [...document.images].every((img) => {
            const box = img.getBoundingClientRect();
            const onScreen = box.bottom > 0 && box.top < innerHeight && box.width > 0;
            return !onScreen || (img.complete && img.naturalWidth > 0);
        })"""
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, type="jpeg", quality=80, animations="disabled")


@pytest.fixture
def servers(site: RunningServer, guarded: RunningServer) -> dict[str, RunningServer]:
    return {"site": site, "guarded": guarded}


@pytest.mark.parametrize(("name", "width", "theme"), list(_cases(("light",))))
def test_nothing_scrolls_sideways(
    browser: Browser,
    servers: dict[str, RunningServer],
    seeded: Seeded,
    name: str,
    width: str,
    theme: str,
) -> None:
    with visit(browser, servers, seeded, name, width, theme) as page:
        assert overflow(page) == 0, f"{name} is {overflow(page)} px wider than the screen"


@pytest.mark.parametrize(("name", "width", "theme"), list(_cases(("light", "dark"))))
def test_every_text_meets_aa_contrast(
    browser: Browser,
    servers: dict[str, RunningServer],
    seeded: Seeded,
    name: str,
    width: str,
    theme: str,
) -> None:
    with visit(browser, servers, seeded, name, width, theme) as page:
        offenders = low_contrast(page)
        assert offenders == [], "\n".join(map(str, offenders))


def test_an_endpoint_that_cannot_be_found_is_said_in_words_by_its_field(
    browser: Browser, servers: dict[str, RunningServer], seeded: Seeded
) -> None:
    with visit(
        browser, servers, seeded, "subscription form with an error", "1440", "light"
    ) as page:
        endpoint = page.get_by_label("Endpoint URL")
        message = "Can't find the server example.invalid: check the address."
        expect(endpoint).to_have_accessible_description(re.compile(re.escape(message)))
        expect(endpoint).to_have_attribute("aria-invalid", "true")
        expect(endpoint).to_be_focused()
        field_error = page.locator(".field").filter(has=endpoint).locator(".field-error")
        expect(field_error).to_have_text(message)
        expect(page.locator("form .form-error")).to_be_hidden()

        endpoint.fill("https://example.org/hooks")  # being corrected: the error goes
        expect(field_error).to_have_count(0)
        expect(endpoint).not_to_have_attribute("aria-invalid", "true")
