from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw
from skimage import data

from sightline.vision import Analysis, Picture, ResultModel
from sightline.vision.smart_crop import (
    DEFAULT_ASPECT_RATIOS,
    Region,
    RegionSource,
    SmartCropAnalyzer,
    saliency_map,
)

PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]
Box = dict[str, int]


class Found(ResultModel):
    """The result of a feature that regions are read from; `fixed` sources ignore it."""


def analyze(
    picture: Picture, analyzer: SmartCropAnalyzer | None = None, *computed: str
) -> dict[str, Any]:
    """The crop with the features of its required sources, and those `computed`, as inputs."""
    analyzer = analyzer or SmartCropAnalyzer()
    inputs = {feature: Analysis(Found()) for feature in (*analyzer.depends_on, *computed)}
    result = analyzer.analyze(picture, inputs).result.model_dump(mode="json")
    json.dumps(result, allow_nan=False)
    return result


def holds(crop: Box, x0: float, y0: float, x1: float, y1: float) -> bool:
    return (
        crop["x"] <= x0
        and crop["y"] <= y0
        and x1 <= crop["x"] + crop["w"]
        and y1 <= crop["y"] + crop["h"]
    )


def object_on_flat_background(size: tuple[int, int] = (640, 360)) -> Image.Image:
    """A small bright disc in the far right third of a flat grey picture, at (570-610, 200-240)."""
    image = Image.new("RGB", size, (90, 90, 100))
    ImageDraw.Draw(image).ellipse((570, 200, 610, 240), fill=(255, 240, 60))
    return image


def fixed(*regions: Region, feature: str = "found", required: bool = True) -> RegionSource:
    return RegionSource(feature, lambda _result: list(regions), required)


def test_small_object_stays_in_the_square_crop(picture_of: PictureOf) -> None:
    crops = analyze(picture_of(object_on_flat_background()))["crops"]
    square = next(crop for crop in crops if crop["aspect_ratio"] == 1.0)
    assert square["box"]["h"] == 360
    assert holds(square["box"], 570, 200, 610, 240)
    for crop in crops:
        assert holds(crop["box"], 570, 200, 610, 240)


def test_object_on_the_left_of_a_tall_picture(picture_of: PictureOf) -> None:
    image = object_on_flat_background().transpose(Image.Transpose.ROTATE_90)  # 360 x 640
    crops = analyze(picture_of(image))["crops"]
    for crop in crops:
        # Rotating moved the disc to (200-240, 30-70).
        assert holds(crop["box"], 200, 30, 240, 70)


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_injected_region_at_the_left_edge_is_kept(picture_of: PictureOf, name: str) -> None:
    image = Image.fromarray(getattr(data, name)())
    region = Region(0, 40, 60, 120, weight=0.9)
    result = analyze(
        picture_of(image, "JPEG"), SmartCropAnalyzer(salient_regions={"test": fixed(region)})
    )
    assert len(result["crops"]) == len(DEFAULT_ASPECT_RATIOS)
    for crop in result["crops"]:
        assert crop["contains_all_regions"] is True
        assert holds(crop["box"], 0, 40, 60, 120)


def test_regions_from_several_sources(picture_of: PictureOf, photo: Photo) -> None:
    left, right = Region(10, 10, 50, 50), Region(300, 100, 340, 140)
    analyzer = SmartCropAnalyzer(
        salient_regions={"left": fixed(left, feature="l"), "right": fixed(right, feature="r")},
        aspect_ratios=[1.0],
    )
    crop = analyze(picture_of(photo(1, (640, 360))), analyzer)["crops"][0]
    assert crop["contains_all_regions"] is True
    assert holds(crop["box"], 10, 10, 340, 140)


def test_heaviest_region_wins_when_not_all_fit(picture_of: PictureOf, photo: Photo) -> None:
    light, heavy = Region(0, 100, 40, 140, weight=0.5), Region(600, 100, 640, 140, weight=0.9)
    analyzer = SmartCropAnalyzer(
        salient_regions={"test": fixed(light, heavy)}, aspect_ratios=[9 / 16]
    )
    crop = analyze(picture_of(photo(2, (640, 360))), analyzer)["crops"][0]
    assert crop["contains_all_regions"] is False
    assert holds(crop["box"], 600, 100, 640, 140)
    assert not holds(crop["box"], 0, 100, 40, 140)


def test_region_larger_than_the_crop(picture_of: PictureOf, photo: Photo) -> None:
    analyzer = SmartCropAnalyzer(
        salient_regions={
            "test": fixed(Region(100, 0, 500, 300), Region(450, 50, 500, 100, weight=0.5))
        },
        aspect_ratios=[1.0],
    )
    crop = analyze(picture_of(photo(3, (640, 300))), analyzer)["crops"][0]
    assert crop["contains_all_regions"] is False
    assert holds(crop["box"], 450, 50, 500, 100)


@pytest.mark.parametrize(
    "size",
    [(640, 480), (480, 640), (1000, 100), (100, 1000), (37, 911), (1, 1), (1, 500), (3000, 2)],
    ids=lambda size: "x".join(map(str, size)),
)
def test_boxes_have_the_ratio_and_fit_the_picture(
    picture_of: PictureOf, size: tuple[int, int]
) -> None:
    ratios = [*DEFAULT_ASPECT_RATIOS, 2.35, 0.2]
    analyzer = SmartCropAnalyzer(aspect_ratios=ratios)
    noise = np.random.default_rng(4).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    result = analyze(picture_of(Image.fromarray(noise)), analyzer)
    width, height = size
    assert (result["width"], result["height"]) == size
    assert [crop["aspect_ratio"] for crop in result["crops"]] == [round(r, 4) for r in ratios]
    for ratio, crop in zip(ratios, result["crops"], strict=True):
        box = crop["box"]
        assert box["w"] >= 1 and box["h"] >= 1
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["w"] <= width and box["y"] + box["h"] <= height
        # The largest box of the ratio: it spans the picture one way.
        assert box["w"] == width or box["h"] == height
        if min(box["w"], box["h"]) > 1:
            assert abs(box["w"] - box["h"] * ratio) <= 1 or abs(box["h"] - box["w"] / ratio) <= 1


@pytest.mark.parametrize("format", ["PNG", "JPEG"])
def test_flat_picture_is_cropped_in_the_middle(picture_of: PictureOf, format: str) -> None:
    crops = analyze(picture_of(Image.new("RGB", (640, 360), (200, 180, 150)), format))["crops"]
    square = crops[0]["box"]
    assert square == {"x": 140, "y": 0, "w": 360, "h": 360}


def test_deterministic(picture_of: PictureOf) -> None:
    image = Image.fromarray(data.astronaut())
    regions = {"faces": fixed(Region(150, 60, 260, 180, 0.95))}
    first = analyze(picture_of(image, "JPEG"), SmartCropAnalyzer(salient_regions=regions))
    second = analyze(picture_of(image, "JPEG"), SmartCropAnalyzer(salient_regions=regions))
    assert first == second


def test_saliency_sums_to_one_and_finds_the_object(picture_of: PictureOf) -> None:
    saliency = saliency_map(picture_of(object_on_flat_background()))
    assert saliency.sum() == pytest.approx(1.0)
    rows, cols = saliency.shape
    # The disc's column band (570-610 of 640) holds most of the mass.
    band = saliency[:, int(cols * 560 / 640) : int(cols * 620 / 640) + 1]
    assert band.sum() > 0.5


@pytest.mark.parametrize("ratios", [[], [0.0], [-1.0], [float("nan")]])
def test_rejects_bad_ratios(ratios: list[float]) -> None:
    with pytest.raises(ValueError):
        SmartCropAnalyzer(aspect_ratios=ratios)


def test_regions_count_only_the_kinds_known_for_the_picture(
    picture_of: PictureOf, photo: Photo
) -> None:
    analyzer = SmartCropAnalyzer(
        salient_regions={
            "faces": fixed(Region(10, 10, 50, 50), feature="faces"),
            "text": fixed(Region(60, 10, 90, 20), feature="read", required=False),
        },
        aspect_ratios=[1.0],
    )
    assert analyzer.depends_on == ("faces",)
    assert analyzer.reuses == ("read",)
    assert analyze(picture_of(photo(4)), analyzer)["regions"] == {"faces": 1}  # not read
    assert analyze(picture_of(photo(4)), analyzer, "read")["regions"] == {"faces": 1, "text": 1}


def test_other_ratios_change_the_version(picture_of: PictureOf, photo: Photo) -> None:
    custom = SmartCropAnalyzer(aspect_ratios=[2.0, 0.5])
    assert custom.version != SmartCropAnalyzer().version
    crops = analyze(picture_of(photo(5, (640, 480))), custom)["crops"]
    assert [crop["aspect_ratio"] for crop in crops] == [2.0, 0.5]
