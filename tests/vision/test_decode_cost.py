"""What a picture will hold in memory, told from its header before decoding."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from sightline.vision.decode_cost import DecodeCost, stored_bytes_per_pixel
from support.imagegen import encode

GIB = 1024**3


def png_header(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    """A PNG that declares its size and mode but whose pixel data is cut short: it can be
    opened, never decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0"))


def cost_of(data: bytes) -> DecodeCost:
    return DecodeCost.of(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize(
    "mode, size",
    [("1", 1), ("L", 1), ("P", 1), ("I;16", 2), ("LA", 4), ("RGB", 4), ("RGBA", 4)]
    + [("CMYK", 4), ("I", 4), ("F", 4)],
)
def test_pixels_are_counted_as_pillow_stores_them(mode: str, size: int) -> None:
    assert stored_bytes_per_pixel(mode) == size


def test_the_tiny_bilevel_png_of_the_report_is_counted_from_its_header() -> None:
    """A 1-bit PNG of 8900x8900 is a few KB, decodes to 79 MB (one byte a pixel) and holds
    far more while analysed: upright RGB, the models' array, passing copies."""
    data = png_header(8900, 8900, bit_depth=1, colour_type=0)
    assert len(data) < 100
    cost = cost_of(data)
    assert cost.pixels == 8900 * 8900
    assert cost.decoded == cost.pixels
    # At least the upright RGB (4 bytes a pixel in Pillow) and the (H, W, 3) array.
    assert cost.analysed >= cost.decoded + cost.pixels * (4 + 3)
    assert cost.analysed > GIB


def test_the_cost_grows_with_the_pixels() -> None:
    small = cost_of(png_header(1000, 1000, bit_depth=8, colour_type=2))
    large = cost_of(png_header(2000, 1000, bit_depth=8, colour_type=2))
    assert (large.decoded, large.analysed) == (2 * small.decoded, 2 * small.analysed)


@pytest.mark.parametrize(
    "cheaper, costlier",
    [
        (("L", "PNG"), ("RGB", "PNG")),  # one byte a pixel against four
        (("RGB", "PNG"), ("RGBA", "PNG")),  # flattened onto white: a second RGB image
        (("RGB", "PNG"), ("RGB", "WEBP")),  # the decoder's own canvas and frame
        (("L", "PNG"), ("I;16", "PNG")),  # scaled to 8 bits through float64 pixels
    ],
)
def test_what_a_mode_or_format_makes_the_pipeline_hold_is_counted(
    cheaper: tuple[str, str], costlier: tuple[str, str]
) -> None:
    assert cost_in(*cheaper).analysed < cost_in(*costlier).analysed


def cost_in(mode: str, format: str) -> DecodeCost:
    image = Image.open(io.BytesIO(encode(Image.new(mode, (40, 30)), format)))
    assert image.mode == mode  # as written: the comparison is of what it means to compare
    return DecodeCost.of(image)


def test_transparency_in_a_palette_counts_as_alpha() -> None:
    opaque = Image.new("RGB", (40, 30), "red").convert("P")
    plain = cost_of(encode(opaque, "PNG"))
    see_through = cost_of(encode(opaque, "PNG", transparency=0))
    assert see_through.analysed - plain.analysed == 40 * 30 * 4
