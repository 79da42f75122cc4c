from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from sightline.errors import (
    EmptyImage,
    ImageDimensionsTooLarge,
    ImageMemoryTooLarge,
    ImageTooLarge,
    InvalidImageFormat,
)
from sightline.memory_budget import MemoryBudget
from sightline.vision import Decoder, Picture, decode
from sightline.vision.decode_cost import DecodeCost

Encode = Callable[..., bytes]
Photo = Callable[..., Image.Image]
MAX_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 100_000_000


def decode_all(data: bytes) -> Picture:
    return decode(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_zero_bytes_is_empty() -> None:
    with pytest.raises(EmptyImage):
        decode_all(b"")


@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_truncated_file_is_invalid(encode: Encode, photo: Photo, format: str) -> None:
    data = encode(photo(1), format)
    with pytest.raises(InvalidImageFormat):
        decode_all(data[: len(data) // 2])


def test_text_is_invalid() -> None:
    with pytest.raises(InvalidImageFormat, match="not an image"):
        decode_all(b"Hello, this is a text file.\n" * 20)


@pytest.mark.parametrize("format", ["TGA", "PCX", "ICO"])
def test_unsupported_format_is_invalid(encode: Encode, photo: Photo, format: str) -> None:
    data = encode(photo(2, (64, 64)), format)
    assert Image.open(io.BytesIO(data)).format == format  # a real file Pillow could read
    with pytest.raises(InvalidImageFormat, match="not an image in a supported format"):
        decode_all(data)


def test_too_many_bytes(encode: Encode, photo: Photo) -> None:
    data = encode(photo(3), "PNG")
    assert decode(data, max_bytes=len(data), max_pixels=MAX_PIXELS).width == 320
    with pytest.raises(ImageTooLarge) as caught:
        decode(data, max_bytes=len(data) - 1, max_pixels=MAX_PIXELS)
    assert caught.value.details == {"limit": len(data) - 1}


def test_decompression_bomb_is_refused_from_its_header() -> None:
    """A real 20000x20000 1-bit PNG: 50 MB of pixels compressed into about 50 kB."""
    width = height = 20_000
    compressor = zlib.compressobj(9)
    row = bytes(1 + width // 8)  # filter byte, then 1 bit per pixel
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )
    assert len(data) < 100_000
    with pytest.raises(ImageDimensionsTooLarge) as caught:
        decode(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    assert caught.value.details == {"limit": MAX_PIXELS}


def test_dimensions_are_checked_before_any_pixel_is_decoded(encode: Encode) -> None:
    data = bytearray(encode(Image.new("L", (10, 10)), "PNG"))
    ihdr_body = 16  # signature (8), chunk length (4), chunk type (4)
    data[ihdr_body : ihdr_body + 8] = struct.pack(">II", 3000, 3000)
    crc = zlib.crc32(bytes(data[12 : ihdr_body + 13]))
    data[ihdr_body + 13 : ihdr_body + 17] = struct.pack(">I", crc)
    with pytest.raises(ImageDimensionsTooLarge):
        decode(bytes(data), max_bytes=MAX_BYTES, max_pixels=1_000_000)
    # Allowed that many pixels, decoding starts and finds the data far too short: so the error
    # above came from the header alone.
    with pytest.raises(InvalidImageFormat, match="truncated or corrupt"):
        decode(bytes(data), max_bytes=MAX_BYTES, max_pixels=10_000_000)


@pytest.mark.parametrize(
    ("format", "content_type", "params"),
    [
        ("JPEG", "image/jpeg", {"quality": 95}),
        ("PNG", "image/png", {}),
        ("GIF", "image/gif", {}),
        ("BMP", "image/bmp", {}),
        ("TIFF", "image/tiff", {}),
        ("WEBP", "image/webp", {"quality": 95}),
        ("AVIF", "image/avif", {"quality": 95}),
        ("HEIF", "image/heic", {"quality": 95}),
    ],
)
def test_supported_formats_decode(
    encode: Encode, photo: Photo, format: str, content_type: str, params: dict[str, int]
) -> None:
    original = photo(4)
    picture = decode_all(encode(original, format, **params))
    assert picture.format == format
    assert picture.content_type == content_type
    assert picture.image.size == (320, 240)
    difference = np.abs(
        np.asarray(picture.rgb, dtype=np.int16) - np.asarray(original, dtype=np.int16)
    )
    # GIF's 256-colour palette is the coarsest encoding here.
    assert difference.mean() < 12


def test_sixteen_bit_greyscale_is_scaled_to_its_range(encode: Encode) -> None:
    gradient = np.tile(np.linspace(1000, 60000, 64).astype(np.uint16), (8, 1))
    picture = decode_all(encode(Image.fromarray(gradient), "PNG"))
    assert picture.image.mode.startswith("I")
    grey = np.asarray(picture.oriented)[0, :, 0].astype(int)
    assert picture.oriented.mode == "RGB"
    assert (grey[0], grey[-1]) == (0, 255)
    assert np.all(np.diff(grey) >= 0)


def test_cmyk_jpeg(encode: Encode) -> None:
    picture = decode_all(encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"))
    assert picture.image.mode == "CMYK"
    pixel = picture.rgb.getpixel((8, 8))
    assert isinstance(pixel, tuple)
    red, green, blue = pixel
    assert red > 200 and green < 60 and blue < 60


def test_palette_png_with_transparency(encode: Encode) -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    image.putpixel((0, 0), 0)
    picture = decode_all(encode(image, "PNG", transparency=0))
    assert picture.oriented.mode == "RGBA"
    corner = picture.oriented.getpixel((0, 0))
    assert isinstance(corner, tuple) and corner[3] == 0
    assert picture.oriented.getpixel((1, 1)) == (255, 0, 0, 255)
    assert picture.rgb.getpixel((0, 0)) == (255, 255, 255)


def test_animated_gif_decodes_its_first_frame(encode: Encode) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "lime", "blue")]
    picture = decode_all(encode(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    assert picture.format == "GIF"
    assert picture.rgb.getpixel((4, 4)) == (255, 0, 0)


def test_one_pixel_image(encode: Encode) -> None:
    picture = decode_all(encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"))
    assert (picture.width, picture.height) == (1, 1)
    assert picture.rgb.getpixel((0, 0)) == (10, 20, 30)


# -- within a memory budget ------------------------------------------------------------------


def bilevel_png_cut_short(width: int, height: int) -> bytes:
    """A 1-bit PNG that declares its size but whose pixel data stops at once: it can be
    opened, not decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0"))
        + png_chunk(b"IEND", b"")
    )


def test_a_picture_needing_more_memory_than_the_budget_is_refused_from_its_header() -> None:
    """The report's case: a few bytes of 1-bit PNG declaring 8900x8900 pixels, under the
    pixel limit, that analysis would need over a gigabyte for."""
    data = bilevel_png_cut_short(8900, 8900)
    needed = DecodeCost.of(Image.open(io.BytesIO(data))).analysed
    decoder = Decoder(MAX_PIXELS, MemoryBudget(needed - 1))
    # Refused also when the upload is only checked: it could never be analysed.
    with pytest.raises(ImageMemoryTooLarge) as caught, decoder.picture(data, analysed=False):
        pass
    assert caught.value.details == {"limit": needed - 1, "needed": needed}
    assert "8900x8900 = 79210000 pixels" in caught.value.message
    assert decoder.budget.reserved == 0
    # Given the memory, decoding starts and finds the data cut short: so the refusal above
    # came from the header alone.
    enough = Decoder(MAX_PIXELS, MemoryBudget(needed))
    with pytest.raises(InvalidImageFormat, match="truncated or corrupt"), enough.picture(data):
        pass
    assert enough.budget.reserved == 0


def test_a_picture_holds_its_memory_while_open_and_frees_its_pixels_after(
    encode: Encode, photo: Photo
) -> None:
    data = encode(photo(5), "PNG")
    cost = DecodeCost.of(Image.open(io.BytesIO(data)))
    decoder = Decoder(MAX_PIXELS, MemoryBudget(cost.analysed))
    with decoder.picture(data) as picture:
        assert decoder.budget.reserved == cost.analysed
        assert picture.rgb.size == (320, 240)
    assert decoder.budget.reserved == 0
    assert (picture.width, picture.height, picture.format) == (320, 240, "PNG")
    assert "rgb" not in vars(picture) and "oriented" not in vars(picture)
    with pytest.raises(ValueError, match="closed"):
        picture.image.getpixel((0, 0))


def test_checking_an_upload_reserves_only_what_decoding_holds(encode: Encode, photo: Photo) -> None:
    data = encode(photo(6), "PNG")
    cost = DecodeCost.of(Image.open(io.BytesIO(data)))
    decoder = Decoder(MAX_PIXELS, MemoryBudget(cost.analysed))
    with decoder.picture(data, max_bytes=len(data), analysed=False):
        assert decoder.budget.reserved == cost.decoded < cost.analysed
    with pytest.raises(ImageTooLarge), decoder.picture(data, max_bytes=len(data) - 1):
        pass


@pytest.mark.parametrize("progressive", [False, True])
def test_checking_a_jpeg_keeps_its_size_and_refuses_what_a_full_decode_refuses(
    encode: Encode, photo: Photo, progressive: bool
) -> None:
    """An upload's check may decode a JPEG at a reduced scale; what it reports and what it
    refuses stay those of a full decode."""
    data = encode(photo(7, (333, 201)), "JPEG", quality=90, progressive=progressive)
    decoder = Decoder(MAX_PIXELS, MemoryBudget(MAX_BYTES))
    with decoder.picture(data, analysed=False) as checked:
        assert (checked.width, checked.height) == (333, 201)
    assert (checked.width, checked.height, checked.format) == (333, 201, "JPEG")
    for cut in (len(data) // 3, len(data) * 2 // 3, len(data) - 3):
        with pytest.raises(InvalidImageFormat, match="truncated or corrupt"):
            decode_all(data[:cut])
        with (
            pytest.raises(InvalidImageFormat, match="truncated or corrupt"),
            decoder.picture(data[:cut], analysed=False),
        ):
            pass
    assert decoder.budget.reserved == 0
