"""The web app in a real headless Chromium against a real Sightline with real models: upload by
drag-and-drop, results arriving live, overlays, search, training a classifier, a phone-width
screen, signing in with an API key, event subscriptions, and the API docs with no internet."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect
from skimage import data as samples

from conftest import RunningServer, serve
from sightline import Client
from sightline.app import Sightline
from support.browsers import Tab, drop_files, jpeg, png, web_settings
from support.documents import memo, receipt
from support.garments import garment
from support.imagegen import noise
from support.receivers import Receiver

PHONE = {"width": 375, "height": 740}


def card(page: Page, image_id: str) -> Locator:
    return page.locator(f'.card[data-id="{image_id}"]')


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_dropped_files_upload_with_progress_and_their_results_arrive_live(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Images", level=1)).to_be_visible()
    expect(page.locator("#live-status")).to_have_attribute("data-status", "live")
    page.evaluate("window.notReloaded = true")

    drop_files(
        page,
        "#gallery",
        [
            ("drop-astronaut.jpg", "image/jpeg", jpeg(samples.astronaut())),
            ("drop-receipt.png", "image/png", png(receipt().image)),
            ("notes.txt", "text/plain", b"this is not a picture"),
        ],
    )

    uploads = page.get_by_role("region", name="Uploads")
    items = uploads.locator(".upload-item")
    expect(items).to_have_count(3)
    refused = items.filter(has_text="notes.txt")
    expect(refused).to_have_attribute("data-state", "rejected")
    # Said in plain words, by that file only.
    expect(refused.get_by_role("alert")).to_contain_text("notes.txt is not an image")
    for name in ("drop-astronaut.jpg", "drop-receipt.png"):
        item = items.filter(has_text=name)
        expect(item).to_have_attribute("data-state", "done", timeout=60_000)
        expect(item.locator("progress")).to_have_attribute("value", "100")
        shown = page.locator(".card", has=page.get_by_text(name, exact=True))
        expect(shown).to_have_attribute("data-status", "done")
        thumbnail = shown.get_by_role("img", name=name)
        expect(thumbnail).to_be_visible()
        thumbnail.evaluate("(img) => img.decode()")  # the real thumbnail, loaded
    expect(uploads).to_contain_text("3 of 3 finished · 1 refused")
    assert page.evaluate("window.notReloaded") is True  # all of it live, without a reload


def test_the_image_page_toggles_overlays_and_follows_a_reprocess(page: Page, api: Client) -> None:
    face = api.upload(jpeg(samples.astronaut()), filename="overlay-face.jpg")
    document = api.upload(png(receipt().image), filename="overlay-receipt.png")
    api.wait(face["id"])
    lines = api.wait(document["id"])["features"]["read"]["result"]["lines"]

    page.goto(f"/#/images/{face['id']}")
    expect(page.get_by_role("heading", name="overlay-face.jpg", level=1)).to_be_visible()
    boxes = page.locator(".layer-faces rect.shape")
    expect(boxes).to_have_count(1)
    expect(boxes).to_be_visible()
    faces = page.get_by_role("checkbox", name=re.compile(r"^Faces"))
    faces.uncheck()
    expect(boxes).to_be_hidden()
    faces.check()
    expect(boxes).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile(r"^Text lines"))).to_be_disabled()
    expect(page.locator(".swatch").first).to_be_visible()  # colours as swatches

    # Reprocessing shows at once and the page follows the new analysis to its end.
    page.get_by_role("button", name="Reprocess").click()
    status = page.locator(".subtitle .badge")
    expect(status).not_to_have_text("Analysed")
    expect(status).to_have_text("Analysed", timeout=60_000)
    expect(boxes).to_have_count(1)

    page.goto(f"/#/images/{document['id']}")
    polygons = page.locator(".layer-text polygon")
    expect(polygons).to_have_count(len(lines))
    text = page.get_by_role("region", name="Text")
    expect(text).to_contain_text("HARBOUR COFFEE CO")
    text.get_by_text("HARBOUR COFFEE CO").hover()
    expect(page.locator(".layer-text polygon.highlight")).to_have_count(1)
    toggle = page.get_by_role("checkbox", name=re.compile(r"^Text lines"))
    toggle.uncheck()
    expect(polygons.first).to_be_hidden()
    toggle.check()
    expect(polygons.first).to_be_visible()
    page.get_by_text("Raw JSON").click()
    expect(page.locator("details.raw pre")).to_contain_text(document["id"])

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Images", level=1)).to_be_visible()
    expect(card(page, document["id"])).to_have_count(0)
    assert api.list(limit=200)["items"][0]["id"] != document["id"]


def test_search_by_words_by_tag_and_by_meaning(page: Page, api: Client) -> None:
    cat = api.upload(jpeg(samples.chelsea()), filename="search-pet.jpg")
    cup = api.upload(jpeg(samples.coffee()), filename="search-cup.jpg")
    note = api.upload(png(memo().image), filename="search-note.png")
    for image in (cat, cup, note):
        api.wait(image["id"])

    page.goto("/")
    expect(card(page, note["id"])).to_be_visible()
    search = page.get_by_role("searchbox", name="Search images")
    search.fill("resurfacing")  # a word only the memo's text has
    expect(card(page, note["id"])).to_be_visible()
    expect(page.locator(".card")).to_have_count(1)
    assert "q=resurfacing" in page.url  # the search is part of the address
    # Text relevance is an order, not a measure: the card shows its rank.
    expect(card(page, note["id"]).locator(".relevance")).to_have_text("#1")
    expect(page.locator(".results-info")).to_contain_text("matching “resurfacing”, best first")

    search.fill("")
    page.get_by_label("Tag").fill("cat")  # a broader term of the tabby's class
    expect(card(page, cat["id"])).to_be_visible()
    expect(card(page, cup["id"])).to_have_count(0)

    page.get_by_role("button", name="Clear").click()
    page.get_by_role("radio", name="Meaning").check()
    search.fill("hot drink")
    expect(page.locator(".card").first).to_have_attribute("data-id", cup["id"])
    expect(page.get_by_label("Tag")).to_be_disabled()
    # A semantic score is calibrated: shown as a percentage, the cut-off said above the cards.
    expect(card(page, cup["id"]).locator(".relevance")).to_have_text(re.compile(r"^\d+ % match$"))
    expect(page.locator(".results-info")).to_contain_text("(at least 50 % match)")
    expect(card(page, cat["id"])).to_have_count(0)  # a cat is no hot drink

    # The tags read from the surest down.
    card(page, cup["id"]).locator(".card-link").click()
    values = page.locator(".tags-list > li > .value")
    expect(values.first).to_be_visible()
    shown = [float(text.rstrip(" %")) for text in values.all_inner_texts()]
    assert shown == sorted(shown, reverse=True), shown
    page.go_back()

    page.get_by_role("button", name="Clear").click()
    expect(card(page, note["id"])).to_be_visible()
    expect(card(page, cat["id"])).to_be_visible()


def test_text_search_says_how_many_images_match_and_how_it_searched(
    page: Page, api: Client
) -> None:
    """The count, the fallback to any word and the stop words left out, from the server's real
    answer; the fallback to meaning is added to a real answer (`tests/api/test_search.py` pins
    when the server gives it)."""
    sea = api.upload(jpeg(samples.chelsea()), filename="strategy-zorbaquest.jpg")
    port = api.upload(jpeg(samples.coffee()), filename="strategy-plinkwhistle.jpg")
    api.wait(sea["id"])
    api.wait(port["id"])
    # Made-up words: no other test's image (nor any synonym) has them.
    page.goto("/#/?q=the%20zorbaquest%20plinkwhistle")
    expect(card(page, sea["id"])).to_be_visible()
    expect(card(page, port["id"])).to_be_visible()
    info = page.locator(".results-info")
    expect(info).to_contain_text("2 images matching “the zorbaquest plinkwhistle”")
    expect(info).to_contain_text("Matched some words: no image has every word")
    expect(info).to_contain_text("Ignored: the")

    def by_meaning(route: Route) -> None:
        facts: dict[str, object] = {
            "total": None,
            "strategy": "semantic",
            "ignored_words": [],
            "threshold": 0.5,
        }
        route.fulfill(json=route.fetch().json() | facts)

    page.route(re.compile(r"/v1/search\?"), by_meaning)
    page.goto("/#/?q=zorbaquest&status=done")
    expect(info).to_contain_text("Similar in meaning: no image has these words")
    expect(info).not_to_contain_text("Ignored")


def test_tags_of_the_new_shape_read_surest_first_with_broader_terms_and_sources(
    page: Page, api: Client
) -> None:
    """Tags as `{name, confidence, source, broader}` (the tags feature's newer results), here
    put into the server's real answer in rising order, as older results came."""
    image = api.upload(jpeg(samples.astronaut()), filename="tags-shape.jpg")
    api.wait(image["id"])
    tags = [
        {"name": "portrait", "confidence": 0.4, "source": "faces", "broader": []},
        {"name": "crash helmet", "confidence": 0.55, "source": "imagenet", "broader": ["helmet"]},
        {"name": "person", "confidence": 0.9, "source": "people", "broader": []},
    ]

    def answer(route: Route) -> None:
        found = route.fetch().json()
        found["features"]["tags"]["result"]["tags"] = tags
        route.fulfill(json=found)

    page.route(re.compile(rf"/v1/images/{image['id']}(\?|$)"), answer)
    page.goto(f"/#/images/{image['id']}")
    rows = page.locator(".tags-list > li")
    expect(rows).to_have_count(3)
    assert rows.locator(".tag-name").all_inner_texts() == ["person", "crash helmet", "portrait"]
    expect(rows.nth(0).locator(".pill")).to_have_text("from people")
    expect(rows.nth(1).locator(".pill")).to_have_count(0)  # ImageNet's own need no note
    expect(rows.nth(1).locator(".broader")).to_have_text("a kind of helmet")
    expect(rows.nth(1).get_by_role("link", name="helmet", exact=True)).to_have_attribute(
        "href", "#/?tag=helmet"
    )


def test_a_classifier_is_trained_from_images_selected_in_the_gallery(
    page: Page, api: Client
) -> None:
    kinds = ("dress", "shirt")
    ids: dict[str, list[str]] = {}
    for kind in kinds:
        images = api.upload_many(
            [garment(kind, seed) for seed in range(6)], features=["thumbnail", "embedding"]
        )
        ids[kind] = [image["id"] for image in images]
    for image_id in (image_id for group in ids.values() for image_id in group):
        api.wait(image_id)
    page.goto("/#/classifiers?new=1")
    page.get_by_label("Name").fill("web-garments")
    page.get_by_text("One label per image").click()
    page.get_by_role("button", name="Create classifier").click()
    expect(page.get_by_role("heading", name="web-garments", level=1)).to_be_visible()
    expect(page.get_by_text("No labelled images yet")).to_be_visible()

    page.get_by_role("link", name="Label images").first.click()
    bar = page.get_by_role("region", name="Selected images")
    expect(bar).to_be_visible()
    expect(bar.get_by_label("Classifier")).to_have_value("web-garments")
    for kind in kinds:
        for image_id in ids[kind]:
            card(page, image_id).get_by_role("checkbox").check()
        expect(bar).to_contain_text("6 images selected")
        bar.get_by_label("Label").fill(kind)
        bar.get_by_role("button", name="Apply label").click()
        expect(page.locator("#toasts")).to_contain_text(f"Labelled 6 images “{kind}”")
        expect(bar).to_contain_text("0 images selected")

    page.goto("/#/classifiers/web-garments")
    labels = page.get_by_role("region", name="Labels")
    expect(labels).to_contain_text("dress")
    expect(labels).to_contain_text("shirt")
    page.get_by_role("button", name="Train new version").click()
    chart = page.get_by_role("img", name="Precision and recall per label")
    expect(chart).to_be_visible(timeout=60_000)
    matrix = page.get_by_role("img", name=re.compile("^Confusion matrix"))
    expect(matrix).to_be_visible()
    counts = matrix.locator(".cell-value").all_text_contents()
    assert sum(map(int, counts)) == 12  # every example classified once in cross-validation
    expect(page.locator(".tile").first).to_contain_text("%")

    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".subtitle")).to_contain_text("Published v1")
    assert api.classifier("web-garments")["published_version"] == 1


def test_the_gallery_loads_older_pages_as_it_scrolls(page: Page, api: Client) -> None:
    uploaded = api.upload_many([noise(seed) for seed in range(40)], features=["thumbnail"])
    for image in uploaded:
        api.wait(image["id"])
    ours = ", ".join(f'.card[data-id="{image["id"]}"]' for image in uploaded)
    page.goto("/")
    cards = page.locator(".card")
    expect(cards).to_have_count(30)  # the first page: ten of the forty are older
    assert page.locator(ours).count() == 30
    more = page.get_by_role("button", name="Load more")
    while more.is_visible():  # endless: reaching the end of the grid loads the next page
        shown = cards.count()
        more.scroll_into_view_if_needed()
        page.wait_for_function(
            "(n) => document.querySelectorAll('.card').length > n"
            " || document.querySelector('.more').hidden",
            arg=shown,
        )
    expect(page.locator(ours)).to_have_count(40)


def test_a_phone_width_screen_gets_a_layout_that_fits(
    browser: Browser, site: RunningServer, api: Client
) -> None:
    image = api.upload(jpeg(samples.astronaut()), filename="phone.jpg")
    api.wait(image["id"])
    phone = Tab(browser, site.url, PHONE)
    page = phone.page
    try:
        page.goto("/")
        expect(card(page, image["id"]).locator("img")).to_be_visible()
        assert overflow(page) == 0
        for name in ("Images", "Classifiers", "Subscriptions"):
            link = page.get_by_role("navigation", name="Main").get_by_role("link", name=name)
            expect(link).to_be_in_viewport()
        first, second, third = (page.locator(".card").nth(i).bounding_box() for i in range(3))
        assert first and second and third
        assert first["y"] == second["y"] and second["x"] > first["x"]  # two columns
        assert third["y"] > first["y"] + first["height"] - 1
        expect(page.get_by_role("button", name="Upload")).to_be_in_viewport()

        page.goto(f"/#/images/{image['id']}")
        expect(page.locator(".layer-faces rect.shape")).to_have_count(1)
        viewer = page.locator(".viewer").bounding_box()
        panels = page.locator(".panels").bounding_box()
        assert viewer and panels and panels["y"] >= viewer["y"] + viewer["height"]  # stacked
        assert overflow(page) == 0

        for route in ("/#/classifiers?new=1", "/#/subscriptions?new=1"):
            page.goto(route)
            expect(page.locator("form.form-panel")).to_be_visible()
            assert overflow(page) == 0, route
    finally:
        phone.close()


def test_controls_have_names_and_the_keyboard_reaches_the_content(page: Page, api: Client) -> None:
    image = api.upload(jpeg(samples.coffee()), filename="a11y.jpg")
    api.wait(image["id"])
    unnamed = """() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea, button, a[href], img')].filter((el) => {
            if (el.closest('[hidden], [aria-hidden="true"]')) return false;
            if (el.tagName === 'IMG') return !el.hasAttribute('alt');
            const label = [...(el.labels ?? [])].map((l) => l.textContent).join('')
                || el.getAttribute('aria-label') || el.textContent || el.title
                || [...el.querySelectorAll('img')].map((i) => i.alt).join('');
            return !label.trim();
        }).map((el) => el.outerHTML.slice(0, 160))"""
    for route, ready in (
        ("/", ".card img"),
        (f"/#/images/{image['id']}", ".stage img"),
        ("/#/classifiers?new=1", "form.form-panel"),
        ("/#/subscriptions?new=1", "form.form-panel"),
    ):
        page.goto(route)
        expect(page.locator(ready).first).to_be_visible()
        assert page.evaluate(unnamed) == [], route

    page.goto("/")
    expect(page.locator(".card").first).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    app = Sightline(web_settings(tmp_path / "data", api_keys="web-key-0123456789"))
    try:
        with serve(app) as running:
            yield running
    finally:
        app.close()


def test_with_api_keys_the_app_signs_in_and_out(browser: Browser, guarded: RunningServer) -> None:
    tab = Tab(browser, guarded.url, {"width": 1280, "height": 900})
    page = tab.page
    try:
        page.goto("/")
        expect(page.get_by_role("heading", name="Sign in to Sightline")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
        key = page.get_by_label("API key")
        key.fill("wrong-key")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("form").get_by_role("alert")).to_contain_text("not valid")

        key.fill("web-key-0123456789")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Images", level=1)).to_be_visible()
        [cookie] = tab.context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert "web-key" not in cookie["value"]
        expect(page.locator("#live-status")).to_have_attribute("data-status", "live")

        # The event stream and the thumbnails work on the cookie alone.
        with Client(guarded.url, api_key="web-key-0123456789", timeout=30) as api:
            image = api.upload(
                jpeg(samples.chelsea()), filename="signed-in.jpg", features=["thumbnail"]
            )
        shown = card(page, image["id"])
        expect(shown).to_have_attribute("data-status", "done")
        shown.get_by_role("img").evaluate("(img) => img.decode()")

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in to Sightline")).to_be_visible()
        status = page.evaluate("fetch('v1/images').then((r) => r.status)")
        assert status == 401
    finally:
        tab.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_a_subscription_is_created_delivers_and_redelivers_its_dead_letter(
    page: Page, api: Client, receiver: Receiver
) -> None:
    page.goto("/#/subscriptions")
    page.get_by_role("button", name="New subscription").click()
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("Name").fill("web-hooks")
    page.get_by_label("image.analyzed").check()
    page.get_by_role("button", name="Only .jpg files").click()
    page.get_by_role("button", name="Create subscription").click()

    expect(page.get_by_role("heading", name="web-hooks", level=1)).to_be_visible()
    secret = page.locator(".callout .secret")
    expect(secret).to_be_visible()
    assert len(secret.inner_text()) >= 16

    photo = api.upload(jpeg(samples.coffee()), filename="hook.jpg", features=["thumbnail"])
    other = api.upload(png(memo().image), filename="hook.png", features=["thumbnail"])
    api.wait(photo["id"])
    api.wait(other["id"])

    rows = page.locator("table.deliveries tbody tr")
    expect(rows).to_have_count(1)  # the .png was filtered out
    expect(rows).to_contain_text("Dead letter")
    expect(rows).to_contain_text("rejected")
    expect(rows.get_by_role("link")).to_have_text(f"images/{photo['id']}")
    rows.get_by_role("button", name="Redeliver").click()
    expect(rows).to_contain_text("Delivered")
    assert len(receiver.bodies) == 2 and receiver.bodies[0] == receiver.bodies[1]

    page.get_by_role("tab", name="Delivery log").click()
    log = page.locator("table.attempts tbody tr")
    expect(log).to_have_count(2)
    expect(log.nth(0)).to_contain_text("204")
    expect(log.nth(1)).to_contain_text("400")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".subtitle .badge")).to_have_text("Paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".subtitle .badge")).to_have_text("Active")

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete subscription").click()
    expect(page.get_by_role("heading", name="Subscriptions", level=1)).to_be_visible()
    expect(page.get_by_text("web-hooks")).to_have_count(0)


def test_the_api_docs_render_with_every_other_origin_cut_off(page: Page) -> None:
    """A self-hosted box may have no internet: Swagger UI and ReDoc must need nothing from it."""
    outside: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", loopback_only)
    page.goto("/docs")
    expect(page.locator('.opblock-summary-path[data-path="/v1/images"]').first).to_be_visible()
    page.goto("/redoc")
    expect(page.locator('[data-section-id="tag/images"]')).to_be_visible()
    expect(page.get_by_text("/v1/images", exact=True).first).to_be_attached()
    assert outside == []
