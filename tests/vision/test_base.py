"""`Picture`: orientation, colour profiles and pixel formats, before any analyzer sees it."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageCms

from sightline.vision.decode import decode
from support.imagegen import encode

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def picture(image: Image.Image, fmt: str = "PNG", **options: object) -> Image.Image:
    return decode(encode(image, fmt, **options), max_bytes=10**8, max_pixels=10**8).oriented


def test_an_embedded_srgb_profile_keeps_colours() -> None:
    oriented = picture(Image.new("RGB", (8, 8), (200, 30, 40)), icc_profile=SRGB_ICC)
    assert oriented.mode == "RGB"
    assert oriented.getpixel((0, 0)) == (200, 30, 40)


def test_a_profile_keeps_alpha() -> None:
    oriented = picture(Image.new("RGBA", (8, 8), (10, 20, 30, 99)), icc_profile=SRGB_ICC)
    assert oriented.mode == "RGBA"
    assert oriented.getpixel((0, 0)) == (10, 20, 30, 99)


def test_an_unusable_profile_is_ignored_not_fatal() -> None:
    oriented = picture(Image.new("RGB", (8, 8), (1, 2, 3)), icc_profile=b"garbage" * 20)
    assert oriented.getpixel((0, 0)) == (1, 2, 3)


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    oriented = picture(Image.new("RGB", (40, 20), "red"), "JPEG", exif=exif.tobytes())
    assert oriented.size == (20, 40)


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    ramp = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 600).astype(np.uint16)
    oriented = np.asarray(picture(Image.fromarray(ramp)))
    assert oriented[0, 0].tolist() == [0, 0, 0]
    assert oriented[9, 9].tolist() == [255, 255, 255]
    assert 100 < oriented[5, 0, 0] < 160
