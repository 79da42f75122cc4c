"""The image page in a real headless Chromium at a phone's and a wide screen's width: zoom and
pan with the overlays staying on what they mark, overlay toggles in reach above a tall picture,
words instead of internal names, and failures said in plain words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from skimage import data as samples

from conftest import RunningServer
from sightline import Client
from sightline.client import Image
from support.browsers import Tab, jpeg
from support.imagegen import noise

PHONE = {"width": 375, "height": 740}
WIDE = {"width": 1440, "height": 900}
# Every feature with something to show on this page; `people` and `objects` are left out (a
# model to load, no detector shipped): their overlays are drawn like the faces'.
FEATURES = [
    "metadata",
    "color",
    "hash",
    "tags",
    "faces",
    "read",
    "image_type",
    "quality",
    "smart_crop",
]
TOLERANCE = 1.5  # pixels: sub-pixel rounding of the layout

Rect = dict[str, float]


@pytest.fixture(params=[PHONE, WIDE], ids=["375px", "1440px"])
def screen(request: pytest.FixtureRequest, browser: Browser, site: RunningServer) -> Iterator[Page]:
    opened = Tab(browser, site.url, request.param)
    yield opened.page
    opened.close()


@pytest.fixture(scope="module")
def portrait(site: RunningServer) -> Image:
    """One analysed picture with a face, shared by the tests of this module."""
    with Client(site.url, timeout=60) as client:
        image = client.upload(
            jpeg(samples.astronaut()), filename="zoom-quillfeather.jpg", features=FEATURES
        )
        return client.wait(image["id"])


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def rect(page: Page, selector: str) -> Rect:
    found = page.evaluate(
        """(selector) => {
            const box = document.querySelector(selector).getBoundingClientRect();
            return {x: box.x, y: box.y, w: box.width, h: box.height};
        }""",
        selector,
    )
    return {key: float(value) for key, value in found.items()}


def assert_marks(page: Page, selector: str, box: dict[str, int], frame: tuple[int, int]) -> None:
    """The overlay shape `selector` covers `box` (pixels of a `frame` picture) of the picture as
    it is on screen now."""
    picture = rect(page, ".stage .original")
    shape = rect(page, selector)
    width, height = frame
    expected = {
        "x": picture["x"] + box["x"] * picture["w"] / width,
        "y": picture["y"] + box["y"] * picture["h"] / height,
        "w": box["w"] * picture["w"] / width,
        "h": box["h"] * picture["h"] / height,
    }
    for key, value in expected.items():
        assert shape[key] == pytest.approx(value, abs=TOLERANCE), (key, shape, expected)


def test_zooming_and_panning_keep_the_overlays_on_the_picture(
    screen: Page, portrait: dict[str, Any]
) -> None:
    page = screen
    faces = portrait["features"]["faces"]["result"]
    face, frame = faces["faces"][0]["box"], (faces["width"], faces["height"])
    page.goto(f"/#/images/{portrait['id']}")
    shape = page.locator(".layer-faces rect.shape")
    expect(shape).to_be_visible()
    # The page's later requests (similar images, …) re-render parts of it as they answer: the
    # geometry is measured once they have.
    page.wait_for_load_state("networkidle")
    level = page.get_by_role("group", name="Zoom").locator("output")
    expect(level).to_have_text("100 %")
    fitted = rect(page, ".stage")
    assert rect(page, ".stage .original") == pytest.approx(fitted, abs=TOLERANCE)
    assert_marks(page, ".layer-faces rect.shape", face, frame)

    # The wheel zooms around the pointer: the face's middle stays under it.
    marked = rect(page, ".layer-faces rect.shape")
    middle = (marked["x"] + marked["w"] / 2, marked["y"] + marked["h"] / 2)
    page.mouse.move(*middle)
    page.mouse.wheel(0, -200)
    expect(level).not_to_have_text("100 %")
    after = rect(page, ".layer-faces rect.shape")
    assert after["w"] > marked["w"] * 1.2
    assert after["x"] + after["w"] / 2 == pytest.approx(middle[0], abs=TOLERANCE)
    assert after["y"] + after["h"] / 2 == pytest.approx(middle[1], abs=TOLERANCE)
    assert_marks(page, ".layer-faces rect.shape", face, frame)
    assert rect(page, ".stage") == pytest.approx(fitted, abs=TOLERANCE)  # the frame stays

    # Dragging moves the picture and its overlays together.
    before = rect(page, ".stage .original")
    page.mouse.down()
    page.mouse.move(middle[0] - 30, middle[1] - 20, steps=4)
    page.mouse.up()
    moved = rect(page, ".stage .original")
    assert moved["x"] == pytest.approx(before["x"] - 30, abs=TOLERANCE)
    assert moved["y"] == pytest.approx(before["y"] - 20, abs=TOLERANCE)
    assert_marks(page, ".layer-faces rect.shape", face, frame)

    # The buttons zoom around the middle, by half as much again each.
    page.get_by_role("button", name="Fit").click()
    expect(level).to_have_text("100 %")
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    expect(level).to_have_text("225 %")
    picture = rect(page, ".stage .original")
    assert picture["w"] == pytest.approx(fitted["w"] * 2.25, abs=TOLERANCE)
    assert picture["x"] + picture["w"] / 2 == pytest.approx(
        fitted["x"] + fitted["w"] / 2, abs=TOLERANCE
    )
    assert_marks(page, ".layer-faces rect.shape", face, frame)
    assert overflow(page) == 0

    # The keyboard: 0 shows the whole picture, = (or +) zooms in, arrows pan.
    stage = page.locator(".stage")
    stage.focus()
    page.keyboard.press("0")
    expect(level).to_have_text("100 %")
    # (Focus scrolled the page: the stage is measured again.)
    assert rect(page, ".stage .original") == pytest.approx(rect(page, ".stage"), abs=TOLERANCE)
    page.keyboard.press("=")
    expect(level).to_have_text("150 %")
    centred = rect(page, ".stage .original")
    page.keyboard.press("ArrowRight")
    assert rect(page, ".stage .original")["x"] < centred["x"] - 1
    assert_marks(page, ".layer-faces rect.shape", face, frame)

    # A double-click zooms in twice as far; Fit goes back to the whole picture.
    stage.dblclick()
    expect(level).to_have_text("300 %")
    assert_marks(page, ".layer-faces rect.shape", face, frame)
    page.get_by_role("button", name="Fit").click()
    expect(level).to_have_text("100 %")
    expect(page.get_by_role("button", name="Zoom out")).to_be_disabled()

    # Smart crops are an overlay too (off at first), and follow the zoom like the faces.
    crops = portrait["features"]["smart_crop"]["result"]
    page.get_by_role("checkbox", name=re.compile(r"^Smart crops")).check()
    expect(page.locator(".layer-crops rect.shape")).to_have_count(len(crops["crops"]))
    page.get_by_role("button", name="Zoom in").click()
    frame = (crops["width"], crops["height"])
    assert_marks(page, ".layer-crops rect.shape", crops["crops"][0]["box"], frame)


def test_fingers_pinch_and_drag_the_picture_on_a_touch_screen(
    browser: Browser, site: RunningServer, portrait: dict[str, Any]
) -> None:
    faces = portrait["features"]["faces"]["result"]
    face, frame = faces["faces"][0]["box"], (faces["width"], faces["height"])
    context = browser.new_context(
        viewport=PHONE,  # type: ignore[arg-type]
        base_url=site.url,
        has_touch=True,
        is_mobile=True,
    )
    try:
        page = context.new_page()
        page.goto(f"/#/images/{portrait['id']}")
        expect(page.locator(".layer-faces rect.shape")).to_be_visible()
        stage = rect(page, ".stage")
        x, y = stage["x"] + stage["w"] / 2, stage["y"] + stage["h"] / 2
        touches = context.new_cdp_session(page)

        def touch(kind: str, points: list[tuple[float, float]]) -> None:
            touched = [{"x": px, "y": py, "id": index} for index, (px, py) in enumerate(points)]
            touches.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touched})

        # Two fingers from 40 to 160 pixels apart: four times as large, the page itself not.
        touch("touchStart", [(x - 20, y), (x + 20, y)])
        for step in range(1, 11):
            touch("touchMove", [(x - 20 - 6 * step, y), (x + 20 + 6 * step, y)])
        touch("touchEnd", [])
        expect(page.get_by_role("group", name="Zoom").locator("output")).to_have_text("400 %")
        assert page.evaluate("visualViewport.scale") == 1
        assert_marks(page, ".layer-faces rect.shape", face, frame)

        # One finger moves the zoomed picture.
        before = rect(page, ".stage .original")
        touch("touchStart", [(x, y)])
        for step in range(1, 6):
            touch("touchMove", [(x - 8 * step, y - 4 * step)])
        touch("touchEnd", [])
        moved = rect(page, ".stage .original")
        assert moved["x"] == pytest.approx(before["x"] - 40, abs=TOLERANCE)
        assert moved["y"] == pytest.approx(before["y"] - 20, abs=TOLERANCE)
        assert_marks(page, ".layer-faces rect.shape", face, frame)
    finally:
        context.close()


def test_overlay_toggles_and_zoom_are_in_view_above_a_tall_picture(
    screen: Page, site: RunningServer
) -> None:
    with Client(site.url, timeout=60) as client:
        uploaded = client.upload(
            noise(31, size=(320, 1600)),
            filename="tall-grumblewick.png",
            features=["metadata", "faces", "smart_crop"],
        )
        image = client.wait(uploaded["id"])
    page = screen
    page.goto(f"/#/images/{image['id']}")
    toggles = page.locator(".overlay-toggles")
    expect(toggles.get_by_role("checkbox", name=re.compile(r"^Faces"))).to_be_disabled()
    screen_size = page.viewport_size
    assert screen_size is not None
    for part in (toggles, page.get_by_role("group", name="Zoom")):
        box = part.bounding_box()
        assert box is not None
        assert 0 <= box["y"] and box["y"] + box["height"] <= screen_size["height"]
        assert 0 <= box["x"] and box["x"] + box["width"] <= screen_size["width"]
    picture = page.locator(".stage .original")
    expect(picture).to_be_in_viewport()
    assert overflow(page) == 0


def test_the_page_names_features_types_statuses_and_versions_in_words(
    screen: Page, portrait: dict[str, Any]
) -> None:
    page = screen
    page.goto(f"/#/images/{portrait['id']}")
    analysis = page.get_by_role("region", name="Analysis")
    expect(analysis).to_contain_text("Image type")
    expect(analysis).to_contain_text("Smart crop")
    expect(page.get_by_role("region", name="Type and quality")).to_be_visible()
    expect(page.locator(".subtitle .badge")).to_have_text("Analysed")
    row = analysis.locator("li", has=page.get_by_text("Smart crop", exact=True))
    expect(row.locator(".badge")).to_have_text("Analysed")
    version = portrait["features"]["smart_crop"]["version"]
    shown = row.get_by_text(re.compile(r"^version \d+$"))
    expect(shown).to_have_attribute("title", f"Analyzer version {version}")

    # Without the similarity feature, what to do about it (not the missing vector's name).
    expect(page.get_by_role("region", name="Similar images")).to_contain_text(
        "Similar images are found once this image is analysed for similarity"
    )
    text = page.locator("main").inner_text()
    for internal in ("image_type", "smart_crop", "v1-", "embedding"):
        assert internal not in text, internal
    assert overflow(page) == 0


def test_a_failed_or_skipped_feature_says_why_in_plain_words(
    page: Page, portrait: dict[str, Any]
) -> None:
    """Failures put into the server's real answer: a crash in an analyzer (its message names
    the exception) and a feature no analyzer of this server computes."""
    technical = "ValueError: [Errno -2] cannot reshape array of size 0"

    def answer(route: Route) -> None:
        found = route.fetch().json()
        found["features"]["quality"] = {
            **found["features"]["quality"],
            "status": "failed",
            "result": None,
            "error": {"code": "AnalyzerError", "message": technical},
        }
        found["features"]["objects"] = {
            "status": "skipped",
            "analyzer": "",
            "version": "",
            "result": {"reason": "No analyzer for 'objects' is installed in this worker."},
            "updated_at": None,
        }
        route.fulfill(json=found)

    page.route(re.compile(rf"/v1/images/{portrait['id']}$"), answer)
    page.goto(f"/#/images/{portrait['id']}")
    analysis = page.get_by_role("region", name="Analysis")
    failed = analysis.locator("li", has=page.get_by_text("Quality", exact=True))
    expect(failed.locator(".badge")).to_have_text("Failed")
    expect(failed.locator(".error-text")).to_have_text(
        re.compile(r"^This analysis stopped on an unexpected error\. Reprocess the image")
    )
    expect(failed.locator(".error-text")).to_have_attribute("title", technical)  # for support
    skipped = analysis.locator("li", has=page.get_by_text("Objects", exact=True))
    expect(skipped.locator(".badge")).to_have_text("Not applicable")
    expect(skipped).to_contain_text("This server has no analyzer for it installed.")
    text = page.locator("main").inner_text()
    for internal in ("ValueError", "Errno", "'objects'"):
        assert internal not in text, internal
