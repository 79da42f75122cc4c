from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sightline.vision import Picture
from sightline.vision.color import COLOR_NAMES, ColorAnalyzer, color_name
from support.analysis import result_of

PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]

NAMED = {
    "FF0000": "red",
    "000080": "blue",
    "0000FF": "blue",
    "FFFFFF": "white",
    "808080": "gray",
    "8B4513": "brown",
    "FFA500": "orange",
    "008080": "teal",
    "FFC0CB": "pink",
    "800080": "purple",
    "FFFF00": "yellow",
    "008000": "green",
    "000000": "black",
}
# Shades that are not reference colours themselves.
SHADES = {
    "E03030": "red",
    "1010A0": "blue",
    "87A8C8": "blue",
    "F5F5F5": "white",
    "202020": "black",
    "6B8E23": "green",
    "FFE135": "yellow",
    "C8A51E": "yellow",
    "A52A2A": "red",
    "FF8040": "orange",
    "FF66CC": "pink",
    "7B3FA0": "purple",
    "2AA198": "teal",
}


def rgb(code: str) -> tuple[int, int, int]:
    return int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16)


def analyze(picture: Picture) -> dict[str, Any]:
    result = result_of(ColorAnalyzer(), picture)
    json.dumps(result, allow_nan=False)
    return result


@pytest.mark.parametrize(("code", "name"), list(NAMED.items()) + list(SHADES.items()))
def test_color_names(code: str, name: str) -> None:
    assert color_name(rgb(code)) == name


@pytest.mark.parametrize(("code", "name"), NAMED.items())
def test_solid_picture(picture_of: PictureOf, code: str, name: str) -> None:
    result = analyze(picture_of(Image.new("RGB", (120, 80), rgb(code))))
    assert result["dominant_color_foreground"] == name
    assert result["dominant_color_background"] == name
    assert result["dominant_colors"] == [name]
    assert result["accent_color"] == code
    assert result["palette"] == [{"hex": "#" + code.lower(), "name": name, "fraction": 1.0}]
    assert result["is_black_and_white"] is (name in ("black", "gray", "white"))


def test_solid_red_is_not_black_and_white(picture_of: PictureOf) -> None:
    result = analyze(picture_of(Image.new("RGB", (64, 64), (255, 0, 0)), "JPEG"))
    assert result["dominant_colors"] == ["red"]
    assert result["is_black_and_white"] is False


def test_greyscale_gradient_is_black_and_white(picture_of: PictureOf) -> None:
    gradient = np.tile(np.linspace(0, 255, 300).astype(np.uint8), (200, 1))
    result = analyze(picture_of(Image.fromarray(gradient), "JPEG", quality=70))
    assert result["is_black_and_white"] is True
    assert set(result["dominant_colors"]) <= {"black", "gray", "white"}
    assert len(result["dominant_colors"]) >= 2


def test_greyscale_photo_is_black_and_white_and_colour_photo_is_not(
    picture_of: PictureOf, photo: Photo
) -> None:
    colour = photo(7, (400, 300))
    assert analyze(picture_of(colour, "JPEG"))["is_black_and_white"] is False
    assert analyze(picture_of(colour.convert("L"), "JPEG"))["is_black_and_white"] is True


def test_blue_centre_on_white_border(picture_of: PictureOf) -> None:
    image = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(image).rectangle((90, 60, 210, 140), fill=(20, 40, 200))
    result = analyze(picture_of(image))
    assert result["dominant_color_foreground"] == "blue"
    assert result["dominant_color_background"] == "white"
    assert result["dominant_colors"] == ["white", "blue"]
    assert result["accent_color"] == "1428C8"
    assert result["is_black_and_white"] is False


def test_dominant_colours_leave_out_small_shares(picture_of: PictureOf) -> None:
    pixels = np.zeros((100, 100, 3), dtype=np.uint8)
    pixels[:, :55] = (255, 0, 0)
    pixels[:, 55:85] = (0, 128, 0)
    pixels[:, 85:93] = (0, 0, 255)  # 8%
    pixels[:, 93:] = (255, 255, 0)  # 7%
    result = analyze(picture_of(Image.fromarray(pixels)))
    assert result["dominant_colors"] == ["red", "green"]


def test_accent_is_a_vivid_colour_even_when_small(picture_of: PictureOf) -> None:
    image = Image.new("RGB", (200, 200), (245, 240, 230))  # off-white
    ImageDraw.Draw(image).rectangle((10, 10, 50, 60), fill=(230, 20, 30))  # about 5%
    result = analyze(picture_of(image))
    assert result["dominant_colors"] == ["white"]
    accent = result["accent_color"]
    assert isinstance(accent, str) and re.fullmatch(r"[0-9A-F]{6}", accent)
    assert color_name(rgb(accent)) == "red"


def test_palette(picture_of: PictureOf, photo: Photo) -> None:
    result = analyze(picture_of(photo(11, (640, 480)), "JPEG"))
    palette = result["palette"]
    assert isinstance(palette, list) and 1 < len(palette) <= 5
    fractions = [entry["fraction"] for entry in palette]
    assert fractions == sorted(fractions, reverse=True)
    assert sum(fractions) == pytest.approx(1.0, abs=0.001)
    for entry in palette:
        assert re.fullmatch(r"#[0-9a-f]{6}", entry["hex"])
        assert entry["name"] == color_name(rgb(entry["hex"][1:]))


def test_two_colour_palette(picture_of: PictureOf) -> None:
    pixels = np.zeros((50, 100, 3), dtype=np.uint8)
    pixels[:, :50] = (255, 0, 0)
    pixels[:, 50:] = (0, 0, 255)
    result = analyze(picture_of(Image.fromarray(pixels)))
    palette = result["palette"]
    assert isinstance(palette, list)
    assert sorted(palette, key=lambda entry: entry["hex"]) == [
        {"hex": "#0000ff", "name": "blue", "fraction": 0.5},
        {"hex": "#ff0000", "name": "red", "fraction": 0.5},
    ]


def test_transparency_is_seen_on_white(picture_of: PictureOf) -> None:
    image = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    result = analyze(picture_of(image))
    assert result["dominant_colors"] == ["white"]


@pytest.mark.parametrize("size", [(1, 1), (1, 500), (3000, 2), (7, 5)])
def test_tiny_and_extreme_shapes(picture_of: PictureOf, size: tuple[int, int]) -> None:
    result = analyze(picture_of(Image.new("RGB", size, (0, 128, 128))))
    assert result["dominant_color_foreground"] == "teal"
    assert result["dominant_color_background"] == "teal"


def test_every_name_is_reachable() -> None:
    assert sorted(set(NAMED.values())) == sorted(COLOR_NAMES)
