from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage import data

from sightline.vision import Picture
from sightline.vision.image_type import ImageTypeAnalyzer
from sightline.vision.quality import QualityAnalyzer
from support.analysis import result_of
from support.documents import app_window, claim_form, invoice, long_receipt, scanned, web_page

PictureOf = Callable[..., Picture]

PHOTOS = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea}


def analyze(picture: Picture) -> dict[str, Any]:
    result = result_of(QualityAnalyzer(), picture)
    json.dumps(result, allow_nan=False)
    return result


def photo(name: str) -> Image.Image:
    return Image.fromarray(PHOTOS[name]())


def scaled(image: Image.Image, gain: float, offset: float = 0.0) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64) * gain + offset
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))


def with_noise(image: Image.Image, sigma: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64)
    noisy = pixels + np.random.default_rng(0).normal(0, sigma, pixels.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8))


@pytest.mark.parametrize("name", PHOTOS)
def test_blur_lowers_sharpness_and_sets_blurry(picture_of: PictureOf, name: str) -> None:
    sharp = analyze(picture_of(photo(name), "JPEG", quality=90))
    blurred = analyze(picture_of(photo(name).filter(ImageFilter.GaussianBlur(4)), "JPEG"))
    assert sharp["sharpness"]["blurry"] is False
    assert blurred["sharpness"]["blurry"] is True
    assert sharp["sharpness"]["score"] > 0.6
    assert blurred["sharpness"]["score"] < 0.2
    assert blurred["sharpness"]["blur_effect"] > sharp["sharpness"]["blur_effect"]
    assert (
        blurred["sharpness"]["laplacian_variance"] < sharp["sharpness"]["laplacian_variance"] / 10
    )
    assert blurred["score"] < sharp["score"]


def test_sharpness_falls_with_each_step_of_blur(picture_of: PictureOf) -> None:
    image = photo("astronaut")
    scores = [
        analyze(picture_of(image.filter(ImageFilter.GaussianBlur(radius))))["sharpness"]
        for radius in (0, 1, 2, 4)
    ]
    effects = [score["blur_effect"] for score in scores]
    assert effects == sorted(effects)
    assert len(set(effects)) == len(effects)


@pytest.mark.parametrize("name", PHOTOS)
def test_darkened_photo_is_underexposed(picture_of: PictureOf, name: str) -> None:
    normal = analyze(picture_of(photo(name)))["exposure"]
    dark = analyze(picture_of(scaled(photo(name), 0.3)))["exposure"]
    assert (normal["underexposed"], normal["overexposed"]) == (False, False)
    assert (dark["underexposed"], dark["overexposed"]) == (True, False)
    assert dark["mean_luma"] < normal["mean_luma"]
    assert dark["score"] < normal["score"]


@pytest.mark.parametrize("name", PHOTOS)
def test_brightened_photo_is_overexposed(picture_of: PictureOf, name: str) -> None:
    bright = analyze(picture_of(scaled(photo(name), 2.2, 30)))["exposure"]
    assert (bright["underexposed"], bright["overexposed"]) == (False, True)
    assert bright["clipped_bright"] > 0.2
    assert bright["score"] < 0.7


@pytest.mark.parametrize("name", PHOTOS)
def test_noise_rises_with_sigma(picture_of: PictureOf, name: str) -> None:
    noises = [
        analyze(picture_of(with_noise(photo(name), sigma)))["noise"] for sigma in (0, 5, 10, 20)
    ]
    sigmas = [noise["sigma"] for noise in noises]
    levels = [noise["level"] for noise in noises]
    assert sigmas == sorted(sigmas) and len(set(sigmas)) == len(sigmas)
    assert levels == sorted(levels) and len(set(levels)) == len(levels)
    assert noises[0]["noisy"] is False
    assert noises[-1]["noisy"] is True


def test_noise_estimate_is_close_to_the_added_noise(picture_of: PictureOf) -> None:
    # The same noise in every channel, so luma gets all of it. Chelsea is 451 px wide, so it is
    # analysed at its own size; its own noise is about 1.
    pixels = np.asarray(photo("chelsea"), dtype=np.float64)
    noise = np.random.default_rng(0).normal(0, 10, pixels.shape[:2])[..., None]
    noisy = Image.fromarray(np.clip(pixels + noise, 0, 255).round().astype(np.uint8))
    assert 9.0 < analyze(picture_of(noisy))["noise"]["sigma"] < 11.0


def test_edges_are_not_noise(picture_of: PictureOf) -> None:
    stripes = Image.fromarray(np.tile(np.repeat([0, 255], 4), (200, 40)).astype(np.uint8))
    assert analyze(picture_of(stripes))["noise"]["sigma"] < 0.5


def test_contrast(picture_of: PictureOf) -> None:
    normal = analyze(picture_of(photo("coffee")))["contrast"]
    flat = analyze(picture_of(scaled(photo("coffee"), 0.2, 100)))["contrast"]
    assert flat["rms"] == pytest.approx(normal["rms"] * 0.2, rel=0.05)
    assert (normal["low_contrast"], flat["low_contrast"]) == (False, True)
    assert flat["score"] < normal["score"]


def test_good_photo_scores_well_and_damage_costs(picture_of: PictureOf) -> None:
    image = photo("coffee")
    good = analyze(picture_of(image))["score"]
    assert good > 0.8
    for damaged in (
        image.filter(ImageFilter.GaussianBlur(4)),
        scaled(image, 0.3),
        scaled(image, 2.2, 30),
        with_noise(image, 20),
    ):
        assert analyze(picture_of(damaged))["score"] < good


def test_result_shape(picture_of: PictureOf) -> None:
    result = analyze(picture_of(photo("astronaut"), "JPEG"))
    assert set(result) == {"score", "sharpness", "exposure", "noise", "contrast"}
    assert set(result["sharpness"]) == {"score", "blurry", "blur_effect", "laplacian_variance"}
    assert set(result["exposure"]) == {
        "score",
        "judged_as",
        "mean_luma",
        "clipped_dark",
        "clipped_bright",
        "underexposed",
        "overexposed",
    }
    assert set(result["noise"]) == {"sigma", "level", "noisy"}
    assert set(result["contrast"]) == {"score", "rms", "low_contrast"}
    for part in ("sharpness", "exposure", "contrast"):
        assert 0.0 <= result[part]["score"] <= 1.0
    assert 0.0 <= result["score"] <= 1.0


@pytest.mark.parametrize(
    "size",
    [(1, 1), (1, 500), (3000, 2), (2, 2), (300, 200)],
    ids=lambda size: "x".join(map(str, size)),
)
def test_flat_and_extreme_pictures(picture_of: PictureOf, size: tuple[int, int]) -> None:
    result = analyze(picture_of(Image.new("RGB", size, (120, 130, 140))))
    assert result["sharpness"]["blurry"] is True
    assert result["noise"]["sigma"] == 0.0
    assert result["contrast"]["rms"] == 0.0
    assert result["score"] == 0.0


PAGES = {
    "invoice": lambda: invoice().image,
    "long_receipt": lambda: long_receipt().image,
    "claim_form": lambda: claim_form().image,
    "scanned_invoice": lambda: scanned(invoice(), quality=32, sigma=10, angle=2.5).image,
    "app_window": app_window,
    "web_page": web_page,
}


@pytest.mark.parametrize("name", PAGES)
def test_white_page_is_not_overexposed(picture_of: PictureOf, name: str) -> None:
    result = analyze(picture_of(PAGES[name]()))
    exposure = result["exposure"]
    assert exposure["judged_as"] == "page"
    assert (exposure["underexposed"], exposure["overexposed"]) == (False, False)
    assert exposure["score"] > 0.5
    assert result["score"] > 0.7


def test_faded_page_is_overexposed(picture_of: PictureOf) -> None:
    faded = analyze(picture_of(scaled(invoice().image, 0.25, 0.75 * 255)))["exposure"]
    assert faded["judged_as"] == "page"
    assert faded["overexposed"] is True
    assert faded["score"] < 0.5


def test_subject_on_a_white_backdrop_is_judged_alone(picture_of: PictureOf) -> None:
    backdrop = Image.new("RGB", (1200, 800), "white")
    backdrop.paste(photo("coffee").resize((450, 300)), (375, 250))
    exposure = analyze(picture_of(backdrop))["exposure"]
    assert exposure["judged_as"] == "light_background"
    assert (exposure["underexposed"], exposure["overexposed"]) == (False, False)
    assert exposure["clipped_bright"] > 0.8


def test_reuses_the_jobs_image_type(picture_of: PictureOf) -> None:
    picture = picture_of(invoice().image)
    assert QualityAnalyzer.reuses == ("image_type",)
    assert result_of(QualityAnalyzer(), picture, ImageTypeAnalyzer()) == analyze(picture)
