"""The faces pages in a real Chromium, with the real face models: the review screen's groups
(named, split, merged), a person's page (faces, images, rename, "not this person", delete),
the image page's faces (named there, marked on the picture while pointed at), face pictures
that load, and pages that fit a phone. Each step is checked in the API too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageEnhance
from playwright.sync_api import Browser, FilePayload, Page, expect
from skimage import data as samples

from conftest import RunningServer
from sightline import Client
from support.browsers import Tab, jpeg
from support.faces import wait_grouped

PHONE = {"width": 375, "height": 740}
FEATURES = ["faces", "face_embedding", "thumbnail"]
ASTRONAUT = samples.astronaut()
CAMERAMAN = samples.camera()

# Face pictures on the page that the browser could not load or decode.
BROKEN_FACES = """() => [...document.querySelectorAll("img.face-img")]
  .filter((img) => img.complete && img.naturalWidth === 0).length"""


def upload(site: RunningServer, api: Client, pixels: Any, filename: str) -> str:
    image = api.upload(jpeg(pixels), filename=filename, features=FEATURES)
    assert api.wait(image["id"], timeout=120)["status"] == "done"
    wait_grouped(site.url, image["id"])
    return str(image["id"])


def photo(name: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


def get(site: RunningServer, path: str, **query: str) -> Any:
    response = httpx.get(site.url + path, params=query, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def faces_of(site: RunningServer, **query: str) -> list[dict[str, Any]]:
    return list(get(site, "/v1/faces", **query)["items"])


def face_pictures_loaded(page: Page) -> None:
    """Every face picture shown has loaded and decoded."""
    pictures = page.locator("img.face-img")
    expect(pictures.first).to_be_visible()
    page.wait_for_function(
        """() => [...document.querySelectorAll("img.face-img")].every((img) => img.complete)"""
    )
    assert page.evaluate(BROKEN_FACES) == 0
    assert pictures.first.evaluate("(img) => img.naturalWidth") > 0


@pytest.fixture(scope="module")
def uploads(site: RunningServer) -> dict[str, str]:
    brighter = np.asarray(ImageEnhance.Brightness(Image.fromarray(ASTRONAUT)).enhance(1.3))
    with Client(site.url, timeout=60) as api:
        return {
            "astronaut": upload(site, api, ASTRONAUT, "eileen-launch.jpg"),
            "brighter": upload(site, api, brighter, "eileen-brighter.jpg"),
            "cameraman": upload(site, api, CAMERAMAN, "cameraman.jpg"),
        }


def test_a_group_is_reviewed_named_split_merged_and_the_person_kept(
    page: Page, site: RunningServer, uploads: dict[str, str]
) -> None:
    (face,) = faces_of(site, image_id=uploads["astronaut"])
    (copy,) = faces_of(site, image_id=uploads["brighter"])
    assert face["cluster_id"] == copy["cluster_id"]

    page.goto("/#/people/review")
    expect(page.get_by_role("heading", name="Review faces", level=1)).to_be_visible()
    group = page.locator(f'[data-cluster="{face["cluster_id"]}"]')
    expect(group).to_contain_text("2 faces")
    expect(page.locator(".cluster-card")).to_have_count(2)  # and the cameraman's
    face_pictures_loaded(page)

    group.get_by_role("combobox", name="Who is this?").fill("Eileen")
    group.get_by_role("button", name="Name").click()
    expect(page.get_by_role("status").filter(has_text="2 faces named Eileen")).to_be_visible()
    expect(page.locator(".cluster-card")).to_have_count(1)  # named groups are hidden
    (person,) = get(site, "/v1/people")["items"]
    assert (person["name"], person["faces"], person["images"]) == ("Eileen", 2, 2)

    # The group's own page: one face split off, then merged back from the review screen.
    page.goto(f"/#/people/clusters/{face['cluster_id']}")
    expect(page.get_by_role("heading", name="Eileen's group", level=1)).to_be_visible()
    page.locator(f'[data-face="{copy["id"]}"]').get_by_role("checkbox").check()
    page.get_by_role("button", name="Split off selected").click()
    expect(page.get_by_role("status").filter(has_text="1 face split")).to_be_visible()
    (split,) = faces_of(site, image_id=uploads["brighter"])
    assert split["cluster_id"] != face["cluster_id"]
    expect(page.locator(".face-tile")).to_have_count(1)

    page.goto("/#/people/review")
    page.get_by_role("checkbox", name="Show named groups").check()
    expect(page).to_have_url(re.compile(r"all=1"))
    for cluster_id in (face["cluster_id"], split["cluster_id"]):
        page.locator(f'[data-cluster="{cluster_id}"]').get_by_role("checkbox").check()
    page.get_by_role("button", name="Merge selected").click()
    page.get_by_role("dialog").get_by_role("button", name="Merge").click()
    expect(page.get_by_role("status").filter(has_text="Merged 2 groups")).to_be_visible()
    merged = {f["cluster_id"] for f in faces_of(site, person_id=person["id"])}
    assert len(merged) == 1

    # The person's page: faces and images, renamed, one face taken away, then deleted.
    page.goto("/#/people")
    page.get_by_role("link", name=re.compile("Eileen")).click()
    expect(page.get_by_role("heading", name="Eileen", level=1)).to_be_visible()
    expect(page.get_by_text("2 faces · 2 images")).to_be_visible()
    expect(page.get_by_role("region", name="Images").locator(".mini-card")).to_have_count(2)
    face_pictures_loaded(page)

    # Photos added from the page: each face enrolled; one without a face is refused, in words.
    mirrored = jpeg(np.ascontiguousarray(ASTRONAUT[:, ::-1]))
    page.get_by_label("Photos of the person").set_input_files(
        photo("eileen-mirrored.jpg", mirrored)
    )
    expect(page.get_by_role("status").filter(has_text="1 photo added to Eileen")).to_be_visible()
    expect(page.get_by_text("3 faces · 3 images")).to_be_visible()
    page.get_by_label("Photos of the person").set_input_files(
        photo("rocket.jpg", jpeg(samples.rocket()))
    )
    expect(page.get_by_role("alert").filter(has_text="No face was found")).to_be_visible()
    expect(page.get_by_text("3 faces · 3 images")).to_be_visible()

    page.get_by_role("button", name="Rename").click()
    page.get_by_role("textbox", name="Name").fill("Eileen Collins")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Eileen Collins", level=1)).to_be_visible()
    assert get(site, f"/v1/people/{person['id']}")["name"] == "Eileen Collins"

    page.locator(f'[data-face="{copy["id"]}"]').get_by_role(
        "button", name="Not this person"
    ).click()
    page.get_by_role("dialog").get_by_role("button", name="Not the same").click()
    expect(page.get_by_text("2 faces · 2 images")).to_be_visible()
    (left,) = faces_of(site, image_id=uploads["brighter"])
    assert left["person_id"] is None

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="People", level=1)).to_be_visible()
    assert get(site, "/v1/people")["items"] == []
    assert faces_of(site, image_id=uploads["astronaut"]) == []  # its descriptor went with it


def test_the_image_page_lists_its_faces_marks_them_and_names_them(
    page: Page, site: RunningServer, uploads: dict[str, str]
) -> None:
    page.goto(f"/#/images/{uploads['cameraman']}")
    panel = page.get_by_role("region", name="Faces")
    tile = panel.locator(".face-tile")
    expect(tile).to_have_count(1)
    expect(tile).to_contain_text("Not named")
    face_pictures_loaded(page)

    marked = page.locator(".layer-faces .item.highlight")
    expect(marked).to_have_count(0)
    tile.hover()
    expect(marked).to_have_count(1)
    page.get_by_role("heading", level=1).hover()
    expect(marked).to_have_count(0)

    tile.get_by_role("combobox", name="Who is this?").fill("The cameraman")
    tile.get_by_role("button", name="Name").click()
    expect(tile.get_by_role("link", name="The cameraman")).to_be_visible()
    (face,) = faces_of(site, image_id=uploads["cameraman"])
    person = get(site, f"/v1/people/{face['person_id']}")
    assert (person["name"], face["enrolled"]) == ("The cameraman", True)

    tile.get_by_role("link", name="The cameraman").click()
    expect(page.get_by_role("heading", name="The cameraman", level=1)).to_be_visible()


@pytest.fixture
def phone(browser: Browser, site: RunningServer) -> Iterator[Page]:
    opened = Tab(browser, site.url, PHONE)
    yield opened.page
    opened.close()


def test_the_faces_pages_fit_a_phone(phone: Page, uploads: dict[str, str]) -> None:
    for address, heading in [
        ("/#/people/review?all=1", "Review faces"),
        ("/#/people", "People"),
        (f"/#/images/{uploads['astronaut']}", "eileen-launch.jpg"),
    ]:
        phone.goto(address)
        expect(phone.get_by_role("heading", name=heading, level=1)).to_be_visible()
        phone.wait_for_load_state("networkidle")
        assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
