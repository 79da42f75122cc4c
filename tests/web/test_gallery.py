"""The gallery at a phone's width (375 px) and a desktop's (1440 px), in a real Chromium against
a real Sightline: the first photo near the top with the filters folded on a phone, words for
uploading that fit the screen, status badges only where something is unusual, exact copies
stacked, counts, sorting and day groups, search relevance and how the words were searched, and
upload refusals in plain words by their file. Every view is checked for sideways scrolling.

The tests share one server: each uses its own made-up words and files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Locator, Page, Route, expect

from conftest import RunningServer
from sightline import Client
from support.browsers import Tab
from support.imagegen import noise

SCREENS = {"phone": {"width": 375, "height": 740}, "desktop": {"width": 1440, "height": 900}}
# Each test runs on both screens against the one server: its pictures differ per screen (or
# they would stack as copies), and so do the made-up words it searches for.
SEEDS = {"phone": 0, "desktop": 1000}
WORDS = {"phone": ("brindlewort", "quaffeling"), "desktop": ("gorsefiddle", "wimblequeen")}


@pytest.fixture(params=sorted(SCREENS))
def screen(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Browser, site: RunningServer, screen: str) -> Iterator[Page]:
    tab = Tab(browser, site.url, SCREENS[screen])
    yield tab.page
    tab.close()


def card(page: Page, image_id: str) -> Locator:
    return page.locator(f'.card[data-id="{image_id}"]')


def assert_fits(page: Page) -> None:
    """Nothing scrolls sideways."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def listed(site: RunningServer, **params: str | int) -> dict[str, object]:
    answer = httpx.get(f"{site.url}/v1/images", params={"results": "thumbnail", **params})
    answer.raise_for_status()
    return dict(answer.json())


def test_the_first_photo_is_near_the_top_and_the_page_says_how_to_upload_on_this_screen(
    page: Page, api: Client, screen: str
) -> None:
    image = api.upload(
        noise(501 + SEEDS[screen]), filename="topmost-vexlowen.png", features=["thumbnail"]
    )
    api.wait(image["id"])
    page.goto("/")
    first = page.locator(".card").first
    expect(first).to_have_attribute("data-id", image["id"])
    lede = page.locator(".page-head .lede")
    toggle = page.get_by_role("button", name="Filters")
    status = page.get_by_label("Status")
    if screen == "phone":
        box = first.bounding_box()
        # Was at y 575, under the filters: now the first row of photos is wholly on screen.
        assert box and box["y"] < 380 and box["y"] + box["height"] <= 740, box
        # No mouse to drag files with: the page says how a phone uploads.
        expect(lede).to_contain_text("Choose photos")
        expect(lede).not_to_contain_text("Drop")
        expect(status).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(status).to_be_visible()
        status.select_option("done")
        expect(toggle).to_have_text("Filters (1)")  # folded filters still say they apply
        assert_fits(page)
        toggle.click()
        expect(status).to_be_hidden()
    else:
        expect(lede).to_contain_text("Drop images anywhere")
        expect(toggle).to_be_hidden()
        expect(status).to_be_visible()
    assert_fits(page)


def test_only_images_not_analysed_yet_or_failed_wear_a_status_badge(
    page: Page, api: Client, screen: str
) -> None:
    seed = SEEDS[screen]
    done = api.upload(noise(511 + seed), filename="badge-quendril.png", features=["thumbnail"])
    failed = api.upload(noise(512 + seed), filename="badge-quendril.png", features=["thumbnail"])
    api.wait(done["id"])
    api.wait(failed["id"])

    def one_failed(route: Route) -> None:
        found = route.fetch().json()
        for item in found["items"]:
            if item["id"] == failed["id"]:
                item["status"] = "failed"
        route.fulfill(json=found)

    page.route(re.compile(r"/v1/images\?"), one_failed)
    page.goto("/")
    expect(card(page, done["id"])).to_have_attribute("data-status", "done")
    expect(card(page, done["id"]).locator(".badge")).to_have_count(0)
    expect(card(page, failed["id"]).locator(".badge")).to_have_text("Failed")
    assert_fits(page)


def test_exact_copies_stack_on_one_card_that_opens_them(
    page: Page, api: Client, screen: str
) -> None:
    data = noise(521 + SEEDS[screen])
    copies = [
        api.upload(data, filename=f"copy-{n}-zimbrocket.png", features=["thumbnail"])
        for n in range(3)
    ]
    other = api.upload(
        noise(522 + SEEDS[screen]), filename="single-zimbrocket.png", features=["thumbnail"]
    )
    for image in (*copies, other):
        api.wait(image["id"])

    page.goto("/")
    stacked = card(page, copies[-1]["id"])  # the newest copy is the stack's face
    expect(stacked.get_by_role("link", name=re.compile("^3 copies of"))).to_have_text("×3")
    for older in copies[:-1]:
        expect(card(page, older["id"])).to_have_count(0)
    expect(card(page, other["id"]).locator(".stack-count")).to_have_count(0)
    assert_fits(page)
    # One more copy, uploaded meanwhile, becomes the stack's face, live.
    latest = api.upload(data, filename="copy-3-zimbrocket.png", features=["thumbnail"])
    stacked = card(page, latest["id"])
    expect(stacked.locator(".stack-count")).to_have_text("×4")
    expect(card(page, copies[-1]["id"])).to_have_count(0)
    expect(page.locator(".card").first).to_have_attribute("data-id", latest["id"])
    copies.append(latest)

    stacked.locator(".stack-count").click()
    for image in copies:
        expect(card(page, image["id"])).to_be_visible()
    expect(page.locator(".card")).to_have_count(4)
    expect(page.locator(".results-info")).to_contain_text("4 images: exact copies of")
    assert_fits(page)
    page.locator(".results-info").get_by_role("link", name="Show every image").click()
    expect(card(page, other["id"])).to_be_visible()
    expect(card(page, copies[0]["id"])).to_have_count(0)


def test_the_gallery_counts_sorts_and_groups_images_by_day(
    page: Page, api: Client, site: RunningServer, screen: str
) -> None:
    image = api.upload(
        noise(531 + SEEDS[screen]), filename="daygroup-plovernick.png", features=["thumbnail"]
    )
    api.wait(image["id"])
    total = listed(site, limit=1)["total"]
    page.goto("/")
    info = page.locator(".results-info")
    expect(info).to_contain_text(f"{total} images · newest first")
    heads = page.locator(".grid .group-head")
    expect(heads.first).to_have_text("Today")
    expect(page.locator(".grid > li").first).to_have_class("group-head")
    assert_fits(page)

    oldest = listed(site, limit=1, order="oldest")["items"]
    assert isinstance(oldest, list)
    if page.get_by_role("button", name="Filters").is_visible():
        page.get_by_role("button", name="Filters").click()
    page.get_by_label("Sort").select_option("oldest")
    expect(page.locator(".card").first).to_have_attribute("data-id", oldest[0]["id"])
    expect(info).to_contain_text(f"{total} images · oldest first")
    assert "order=oldest" in page.url
    assert_fits(page)

    # The same uploads seen from later days.
    uploaded = datetime.fromisoformat(image["created_at"])
    for days, heading in ((1, "Yesterday"), (40, uploaded.astimezone().strftime("%B %Y"))):
        page.clock.set_fixed_time(datetime.now(UTC) + timedelta(days=days))
        page.goto(f"/?days-later={days}#/")  # a new document, reading the new time
        expect(card(page, image["id"])).to_be_visible()
        expect(heads.first).to_have_text(heading)


def test_search_shows_relevance_counts_and_how_the_words_were_searched(
    page: Page, api: Client, screen: str
) -> None:
    common, rare = WORDS[screen]
    both = api.upload(noise(541 + SEEDS[screen]), filename=f"{common}-{rare}.png")
    one = api.upload(noise(542 + SEEDS[screen]), filename=f"{common}-solo.png")
    api.wait(both["id"])
    api.wait(one["id"])

    page.goto(f"/#/?q=the%20{common}%20{rare}")
    info = page.locator(".results-info")
    expect(card(page, both["id"])).to_be_visible()
    expect(info).to_contain_text(f"1 image matching “the {common} {rare}”")
    expect(info).to_contain_text("Matched every word")
    expect(info).to_contain_text("Ignored: the")
    meter = card(page, both["id"]).locator("meter.relevance-meter")
    expect(meter).to_have_attribute("value", "1")  # the best match fills its bar
    assert_fits(page)

    page.goto(f"/#/?q={common}%20snorquillion")
    expect(card(page, both["id"])).to_be_visible()
    expect(card(page, one["id"])).to_be_visible()
    expect(info).to_contain_text("2 images matching")
    expect(info).to_contain_text("Matched some words")
    expect(info).not_to_contain_text("Ignored")
    expect(page.locator(".grid .group-head")).to_have_count(0)  # ranked, not by day
    assert_fits(page)

    def by_meaning(route: Route) -> None:
        found = route.fetch().json()
        facts: dict[str, object] = {
            "total": None,
            "strategy": "semantic",
            "ignored_words": [],
            "threshold": 0.5,
        }
        for rank, item in enumerate(found["items"]):
            item["score"] = 0.9 - rank / 10
        route.fulfill(json=found | facts | {"method": "conse"})

    page.route(re.compile(r"/v1/search\?"), by_meaning)
    page.goto(f"/#/?q={common}&status=done")
    expect(info).to_contain_text("Similar in meaning")
    expect(page.locator(".card .relevance").first).to_have_text("90 % match")


def test_names_read_as_words_never_as_internal_names(page: Page, api: Client, screen: str) -> None:
    image = api.upload(
        noise(551 + SEEDS[screen]), filename="wordy-fennelqot.png", features=["thumbnail"]
    )
    api.wait(image["id"])
    page.goto("/")
    expect(card(page, image["id"])).to_be_visible()
    options = page.locator("#gallery-status option").all_text_contents()
    assert options == ["Any status", "Waiting", "Analysing", "Analysed", "Failed"]
    text = page.locator("main").text_content() or ""
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text  # no `image_type`, `any_words`…


def test_a_refused_upload_says_why_in_plain_words_by_its_file(page: Page, screen: str) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Images", level=1)).to_be_visible()
    # A phone chooses files; both screens use the same file input behind the Upload button.
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload").click()
    files: list[FilePayload] = [
        {"name": f"gribblenote-{screen}.txt", "mimeType": "text/plain", "buffer": b"no picture"},
        {
            "name": f"gribble-{screen}.png",
            "mimeType": "image/png",
            "buffer": noise(560 + SEEDS[screen]),
        },
    ]
    chooser.value.set_files(files)
    uploads = page.get_by_role("region", name="Uploads")
    refused = uploads.locator(".upload-item", has_text=f"gribblenote-{screen}.txt")
    expect(refused).to_have_attribute("data-state", "rejected")
    expect(refused.get_by_role("alert")).to_have_text(
        f"gribblenote-{screen}.txt is not an image (PNG, JPEG, WebP, GIF, HEIC …)."
    )
    accepted = uploads.locator(".upload-item", has_text=f"gribble-{screen}.png")
    expect(accepted).to_have_attribute("data-state", "done", timeout=60_000)
    expect(uploads).not_to_contain_text("File 1")
    assert_fits(page)
