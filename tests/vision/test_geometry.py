"""The result header and pixel shapes every model feature shares."""

from __future__ import annotations

from typing import Any

from PIL import Image

from sightline.vision import geometry

PictureOf = Any


def test_header_names_the_model_and_the_oriented_frame(picture_of: PictureOf) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: 20 x 40 on screen
    picture = picture_of(Image.new("RGB", (40, 20)), "JPEG", exif=exif)
    header = geometry.ModelResult(**geometry.header(picture, "net", "3"))
    assert header.model_dump() == {
        "model": {"name": "net", "version": "3"},
        "width": 20,
        "height": 40,
    }
    assert geometry.frame(picture) == {"width": 20, "height": 40}


def test_boxes_and_points_are_clipped_whole_pixels() -> None:
    box = geometry.box(-5.2, 10.4, 50.6, 30.0, 40, 20)
    assert box.model_dump() == {"x": 0, "y": 10, "w": 40, "h": 10}
    assert geometry.point(3.5, -1, 40, 20).model_dump() == {"x": 4, "y": 0}
    assert geometry.confidence(1.00004) == 1.0
