"""The classifier pages in a real Chromium, on a 375 px phone and a 1440 px desktop: the empty
list's invitation, name errors by the name field, training held back until each label has
enough examples, metrics that fit the screen, confusion-matrix cells that open their
misclassified images, text readable on the matrix in both themes, and a quick test of one image
that stores nothing. Names are made-up words: the module's tests share one server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import RunningServer
from sightline import Client
from sightline.client.models import Classifier
from support.browsers import Tab, drop_files
from support.garments import garment

PHONE = {"width": 375, "height": 740}
WIDE = {"width": 1440, "height": 900}
CLASSIFIER = "wugglesnort-mislabelled-garment-shapes"  # long: the page must still fit a phone
AA = 4.5  # WCAG AA contrast of normal text

# The WCAG contrast of each confusion-matrix count against the tint under it: the cell's
# background with its fill laid over at the fill's opacity.
MATRIX_CONTRAST = """() => {
  const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  return [...document.querySelectorAll(".confusion .cell")].map((cell) => {
    const under = rgb(getComputedStyle(cell.querySelector(".cell-bg")).fill);
    const tint = cell.querySelector(".cell-fill");
    const over = rgb(getComputedStyle(tint).fill);
    const alpha = Number(tint.getAttribute("fill-opacity"));
    const shown = under.map((c, i) => alpha * over[i] + (1 - alpha) * c);
    const text = luminance(rgb(getComputedStyle(cell.querySelector(".cell-value")).fill));
    const back = luminance(shown);
    return (Math.max(text, back) + 0.05) / (Math.min(text, back) + 0.05);
  });
}"""

# Each metric tile's figure on one line ("94.4 %", never "94.4" over "%") inside its tile.
TILES_ON_ONE_LINE = """() => [...document.querySelectorAll(".tile dd")].every((dd) => {
  const range = document.createRange();
  range.selectNodeContents(dd);
  const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  const tile = dd.closest(".tile").getBoundingClientRect();
  const text = range.getBoundingClientRect();
  return tops.size === 1 && text.right <= tile.right && text.left >= tile.left;
})"""


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def too_wide(page: Page) -> list[str]:
    """The innermost elements reaching past the screen's right edge: what to fix."""
    return list(
        page.evaluate(
            """() => {
              const past = (el) => el.getBoundingClientRect().right > innerWidth + 0.5;
              const clipped = (el) => {
                for (let up = el.parentElement; up; up = up.parentElement) {
                  if (getComputedStyle(up).overflowX !== "visible" && !past(up)) return true;
                }
                return false;
              };
              return [...document.querySelectorAll("main *")]
                .filter((el) => past(el) && !clipped(el) && ![...el.children].some(past))
                .map((el) => `${el.tagName.toLowerCase()}.${el.className.baseVal ?? el.className}`
                  + ` ${Math.round(el.getBoundingClientRect().right)}px`);
            }"""
        )
    )


@pytest.fixture
def phone(browser: Browser, site: RunningServer) -> Iterator[Page]:
    tab = Tab(browser, site.url, PHONE)
    yield tab.page
    tab.close()


def labelled(api: Client, name: str, counts: dict[str, int], *, seed: int = 0) -> Classifier:
    """A multiclass classifier `name` with `counts[kind]` garment photos labelled `kind`."""
    api.create_classifier(name, "multiclass")
    ids: list[tuple[str, str]] = []
    for kind, count in counts.items():
        images = api.upload_many(
            [garment(kind, seed + n) for n in range(count)], features=["thumbnail", "embedding"]
        )
        ids += [(image["id"], kind) for image in images]
    for image_id, _ in ids:
        api.wait(image_id)
    assert api.add_examples(name, ids)["failed"] == 0
    return api.classifier(name)


@pytest.fixture(scope="module")
def trained(site: RunningServer) -> dict[str, Any]:
    """A trained, published classifier with one shirt labelled "dress": cross-validation
    predicts it a shirt, a misclassified example in the cell (dress, shirt)."""
    with Client(site.url, timeout=60) as api:
        labelled(api, CLASSIFIER, {"dress": 6, "shirt": 6}, seed=40)
        mislabelled = api.upload(garment("shirt", 90), features=["thumbnail", "embedding"])
        api.wait(mislabelled["id"])
        api.add_examples(CLASSIFIER, [(mislabelled["id"], "dress")])
        api.train(CLASSIFIER)
        version = api.wait_for_version(CLASSIFIER, 1)
        assert version["status"] == "ready", version
        api.publish(CLASSIFIER, 1)
        return {"mislabelled": mislabelled["id"], "version": version}


# First in the module: the server has no classifier yet.
def test_with_no_classifiers_one_action_opens_the_form_and_errors_sit_by_the_name(
    phone: Page, api: Client
) -> None:
    page = phone
    page.goto("/#/classifiers")
    expect(page.get_by_role("heading", name="No classifiers yet")).to_be_visible()
    expect(page.locator("form.form-panel")).to_have_count(0)  # an invitation, not a form
    invite = page.get_by_role("button", name="Create your first classifier")
    expect(page.locator("main").get_by_role("button")).to_have_count(1)
    invite.click()
    form = page.locator("form.form-panel")
    expect(form).to_be_visible()
    expect(page.get_by_label("Name")).to_be_focused()
    expect(invite).to_be_hidden()
    assert overflow(page) == 0

    name = page.get_by_label("Name")
    field_error = page.locator("#classifier-name-error")
    page.get_by_role("button", name="Create classifier").click()
    expect(field_error).to_have_text("Give the classifier a name.")
    expect(name).to_have_attribute("aria-invalid", "true")
    name.fill("flurb gazzle!")
    page.get_by_role("button", name="Create classifier").click()
    expect(field_error).to_contain_text("Use only letters, digits")
    api.create_classifier("flurbgazzle-taken", "multiclass")
    name.fill("flurbgazzle-taken")
    page.get_by_role("button", name="Create classifier").click()
    expect(field_error).to_have_text(
        "A classifier named “flurbgazzle-taken” exists already: choose another name."
    )
    # By the field it concerns: inside the name's field, and read out with it.
    expect(page.locator(".field", has=name).locator("#classifier-name-error")).to_be_visible()
    assert "classifier-name-error" in (name.get_attribute("aria-describedby") or "")
    expect(form.locator(".form-error")).to_be_hidden()
    name.fill("flurbgazzle-fresh")
    expect(field_error).to_be_hidden()  # the field clears as it becomes right
    page.get_by_role("button", name="Cancel").click()
    expect(form).to_have_count(0)

    page.reload()
    new = page.get_by_role("button", name="New classifier")
    new.click()
    expect(page.locator("form.form-panel")).to_be_visible()
    new.click()  # opens, never closes
    expect(page.locator("form.form-panel")).to_have_count(1)
    expect(page.get_by_label("Name")).to_be_focused()
    assert overflow(page) == 0


def test_train_waits_for_five_examples_of_each_label_and_says_why(page: Page, api: Client) -> None:
    name = "blorptastic-shapes"
    labelled(api, name, {"dress": 5, "shirt": 3})
    page.goto(f"/#/classifiers/{name}")
    train = page.get_by_role("button", name="Train new version")
    expect(train).to_be_disabled()
    reason = page.locator(".train-reason")
    expect(reason).to_have_text("Add at least 5 examples of each label: shirt has 3.")
    assert train.get_attribute("aria-describedby") == reason.get_attribute("id")
    quick = page.get_by_role("region", name="Quick test")
    expect(quick).to_contain_text("Once a version is trained")

    more = api.upload_many([garment("shirt", 50 + n) for n in range(2)], features=["embedding"])
    for image in more:
        api.wait(image["id"])
    api.add_examples(name, [(image["id"], "shirt") for image in more])
    page.reload()
    expect(train).to_be_enabled()
    expect(reason).to_contain_text("reports cross-validated metrics")


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["375px", "1440px"])
def test_a_trained_classifier_fits_the_screen_and_its_matrix_opens_misclassified_images(
    browser: Browser, site: RunningServer, trained: dict[str, Any], viewport: dict[str, int]
) -> None:
    tab = Tab(browser, site.url, viewport)
    page = tab.page
    try:
        page.goto("/#/classifiers")
        expect(page.get_by_role("link", name=CLASSIFIER)).to_be_visible()
        assert overflow(page) == 0

        page.goto(f"/#/classifiers/{CLASSIFIER}")
        expect(page.get_by_role("heading", name=CLASSIFIER, level=1)).to_be_visible()
        expect(page.get_by_role("list", name="Examples of dress").locator("img")).to_have_count(7)
        matrix = page.get_by_role("img", name="Confusion matrix", exact=False)
        expect(matrix).to_be_visible(timeout=60_000)
        expect(page.locator(".tile").first).to_contain_text("%")
        assert overflow(page) == 0, too_wide(page)
        assert page.evaluate(TILES_ON_ONE_LINE)
        # Internal names stay out of sight: no feature name, no head name.
        main = page.locator("main")
        expect(main).not_to_contain_text("custom:")
        expect(main).not_to_contain_text("/linear")

        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            ratios = page.evaluate(MATRIX_CONTRAST)
            assert len(ratios) == 4 and min(ratios) >= AA, (scheme, ratios)

        cell = page.locator('.confusion .cell[data-actual="dress"][data-predicted="shirt"]')
        expect(cell).to_have_class("cell off opens")
        cell.click()
        group = page.locator("details.cell-images[open]")
        expect(group).to_contain_text("dress taken for shirt")
        link = group.locator(f'a[href="#/images/{trained["mislabelled"]}"]')
        expect(link).to_be_visible()
        expect(link.locator("img")).to_have_attribute("alt", re.compile(r"^dress, predicted shirt"))
        assert overflow(page) == 0
        link.click()
        expect(page).to_have_url(f"{site.url}/#/images/{trained['mislabelled']}")
    finally:
        tab.close()


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["375px", "1440px"])
def test_a_quick_test_predicts_on_one_image_without_storing_it(
    browser: Browser,
    site: RunningServer,
    api: Client,
    trained: dict[str, Any],
    viewport: dict[str, int],
) -> None:
    tab = Tab(browser, site.url, viewport)
    page = tab.page
    try:
        stored = api.list(limit=200)["items"]
        page.goto(f"/#/classifiers/{CLASSIFIER}")
        quick = page.get_by_role("region", name="Quick test")
        expect(quick).to_contain_text("version 1 (published)")
        picture = garment("dress", 777)
        if viewport is PHONE:
            quick.locator("input[type=file]").set_input_files(
                {"name": "zimzam-dress.jpg", "mimeType": "image/jpeg", "buffer": picture}
            )
        else:
            drop_files(page, ".test-drop", [("zimzam-dress.jpg", "image/jpeg", picture)])
        answers = quick.get_by_role("list", name="Predicted labels").locator("li")
        expect(answers).to_have_count(2)
        expect(answers.first).to_have_attribute("data-label", "dress")
        expect(answers.first).to_contain_text("Predicted")
        expect(answers.first.locator(".prediction-value")).to_have_text(re.compile(r"^\d+\.\d %$"))
        expect(quick.get_by_role("img", name="zimzam-dress.jpg")).to_be_visible()
        assert overflow(page) == 0

        drop_files(page, ".test-drop", [("zimzam-notes.txt", "text/plain", b"no picture")])
        expect(quick.get_by_role("alert")).to_contain_text("zimzam-notes.txt")
        assert api.list(limit=200)["items"] == stored  # tested, never stored
    finally:
        tab.close()
