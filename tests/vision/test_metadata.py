from __future__ import annotations

import hashlib
import io
import json
import random
import struct
from collections.abc import Callable
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageCms

from sightline.vision import Picture, decode
from sightline.vision.metadata import MAX_COUNTED_FRAMES, MetadataAnalyzer
from support.analysis import result_of

Encode = Callable[..., bytes]
PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]


def analyze(picture: Picture) -> dict[str, Any]:
    result = result_of(MetadataAnalyzer(), picture)
    json.dumps(result, allow_nan=False)  # results are stored as strict JSON
    return result


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "Canon EOS 5D Mark IV"
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Software] = "Firmware 1.0.4"
    exif[ExifTags.Base.Artist] = "Jane Doe"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2021:06:15 14:30:05"
    sub[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    sub[ExifTags.Base.ExposureTime] = 1 / 250
    sub[ExifTags.Base.FNumber] = 2.8
    sub[ExifTags.Base.ISOSpeedRatings] = 400
    sub[ExifTags.Base.FocalLength] = 50.0
    sub[ExifTags.Base.LensModel] = "EF50mm f/1.8 STM"
    sub[ExifTags.Base.UserComment] = b"ASCII\x00\x00\x00a comment stored as bytes"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "S"
    gps[ExifTags.GPS.GPSLatitude] = (33.0, 51.0, 54.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (151.0, 12.0, 36.0)
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
    gps[ExifTags.GPS.GPSAltitude] = 58.5
    gps[ExifTags.GPS.GPSTimeStamp] = (4.0, 30.0, 5.0)
    return exif


def test_camera_jpeg(picture_of: PictureOf, photo: Photo) -> None:
    picture = picture_of(photo(1, (40, 30)), "JPEG", exif=camera_exif(), dpi=(300, 300))
    result = analyze(picture)
    assert result["format"] == "JPEG"
    assert result["content_type"] == "image/jpeg"
    assert (result["width"], result["height"]) == (40, 30)
    assert (result["oriented_width"], result["oriented_height"]) == (30, 40)
    assert (result["oriented_width"], result["oriented_height"]) == picture.oriented.size
    assert result["mode"] == "RGB"
    assert result["bit_depth"] == 8
    assert result["has_alpha"] is False
    assert result["animated"] is False
    assert result["frames"] == 1
    assert result["file_size"] == len(picture.data)
    assert result["sha256"] == hashlib.sha256(picture.data).hexdigest()
    assert result["icc_profile"] is False
    assert result["dpi"] == [300.0, 300.0]
    exif = result["exif"]
    assert isinstance(exif, dict)
    tags = exif.pop("tags")
    assert exif == {
        "camera_make": "Canon",
        "camera_model": "Canon EOS 5D Mark IV",
        "taken_at": "2021-06-15T14:30:05+02:00",
        "orientation": 6,
        "gps": {"latitude": -33.865, "longitude": 151.21, "altitude": 58.5},
        "software": "Firmware 1.0.4",
        "lens_model": "EF50mm f/1.8 STM",
        "exposure_time": 0.004,
        "f_number": 2.8,
        "iso": 400,
        "focal_length": 50.0,
    }
    assert tags["Artist"] == "Jane Doe"
    assert tags["GPSTimeStamp"] == [4.0, 30.0, 5.0]
    assert "UserComment" not in tags  # bytes
    assert not {"Make", "Orientation", "ExifOffset", "GPSInfo", "GPSLatitude"} & set(tags)


def test_taken_at_without_offset_is_local_time(picture_of: PictureOf) -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2019:12:31 23:59:59"
    result = analyze(picture_of(Image.new("RGB", (8, 8)), "JPEG", exif=exif))
    assert result["exif"]["taken_at"] == "2019-12-31T23:59:59"


@pytest.mark.parametrize("value", ["0000:00:00 00:00:00", "yesterday", ""])
def test_unparseable_date_is_null(picture_of: PictureOf, value: str) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Nikon"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = value
    result = analyze(picture_of(Image.new("RGB", (8, 8)), "JPEG", exif=exif))
    assert result["exif"]["taken_at"] is None


def test_no_exif(picture_of: PictureOf) -> None:
    result = analyze(picture_of(Image.new("RGBA", (20, 10), (1, 2, 3, 128))))
    assert result["exif"] is None
    assert result["format"] == "PNG"
    assert result["mode"] == "RGBA"
    assert result["has_alpha"] is True
    assert (result["oriented_width"], result["oriented_height"]) == (20, 10)
    assert result["dpi"] is None


def test_huge_exif_stays_bounded(picture_of: PictureOf) -> None:
    exif = Image.Exif()
    for tag in ExifTags.TAGS:
        if tag not in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop, 0x014A):
            exif[tag] = 7
    exif[ExifTags.Base.ImageDescription] = "x" * 50_000
    picture = picture_of(Image.new("RGB", (8, 8)), "JPEG", exif=exif)
    assert len(picture.data) > 50_000
    result = analyze(picture)
    tags = result["exif"]["tags"]
    assert len(tags) == 200
    assert tags["ImageDescription"] == "x" * 256
    assert len(json.dumps(result)) < 10_000


def test_gps_without_longitude_is_null(picture_of: PictureOf) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Sony"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.6)
    result = analyze(picture_of(Image.new("RGB", (8, 8)), "JPEG", exif=exif))
    assert result["exif"]["gps"] is None
    assert result["exif"]["camera_make"] == "Sony"


def test_tiff_layout_tags_alone_are_no_exif(picture_of: PictureOf) -> None:
    picture = picture_of(Image.new("RGB", (3, 3)), "TIFF")
    assert picture.image.getexif()  # Pillow exposes the TIFF's own tags as EXIF
    assert analyze(picture)["exif"] is None


# Pillow warns about each piece of damage it skips; under pytest, warnings are errors.
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
def test_corrupt_exif_never_raises(encode: Encode, photo: Photo) -> None:
    data = encode(photo(2, (16, 16)), "JPEG", exif=camera_exif())
    exif_start = data.index(b"Exif\x00\x00")
    exif_end = exif_start + struct.unpack(">H", data[exif_start - 2 : exif_start])[0] - 2
    rng = random.Random(0)
    for _ in range(300):
        corrupt = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            corrupt[rng.randrange(exif_start + 6, exif_end)] = rng.randrange(256)
        picture = decode(bytes(corrupt), max_bytes=1_000_000, max_pixels=1_000_000)
        analyze(picture)


def test_icc_profile_and_png_dpi(picture_of: PictureOf) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    result = analyze(picture_of(Image.new("RGB", (8, 8)), "PNG", icc_profile=icc, dpi=(150, 150)))
    assert result["icc_profile"] is True
    assert result["dpi"] == [150.0, 150.0]


def test_sixteen_bit_png(picture_of: PictureOf) -> None:
    result = analyze(picture_of(Image.new("I;16", (8, 8), 40_000)))
    assert result["mode"] == "I;16"
    assert result["bit_depth"] == 16
    assert result["has_alpha"] is False


def test_palette_with_transparency_has_alpha(picture_of: PictureOf) -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    result = analyze(picture_of(image, "PNG", transparency=0))
    assert result["mode"] == "P"
    assert result["has_alpha"] is True


def animated_gif_frames(count: int) -> list[Image.Image]:
    # Neighbouring frames must differ, or the GIF encoder merges them.
    return [Image.new("L", (2, 2), index % 2 * 255) for index in range(count)]


@pytest.mark.parametrize("count", [1, 2, 5])
def test_gif_frames(picture_of: PictureOf, count: int) -> None:
    frames = animated_gif_frames(count)
    picture = picture_of(
        frames[0], "GIF", save_all=True, append_images=frames[1:], comment=b"hi", loop=0
    )
    result = analyze(picture)
    assert result["frames"] == count == Image.open(io.BytesIO(picture.data)).n_frames  # type: ignore[attr-defined]
    assert result["animated"] is (count > 1)
    assert result["has_alpha"] is False


def test_gif_with_local_palettes_and_transparency(picture_of: PictureOf, photo: Photo) -> None:
    frames = [photo(seed, (24, 16)).quantize(200) for seed in range(4)]
    picture = picture_of(
        frames[0], "GIF", save_all=True, append_images=frames[1:], transparency=0, interlace=True
    )
    assert Image.open(io.BytesIO(picture.data)).n_frames == 4  # type: ignore[attr-defined]
    result = analyze(picture)
    assert result["frames"] == 4
    assert result["has_alpha"] is True


def test_gif_frame_count_is_capped(picture_of: PictureOf) -> None:
    frames = animated_gif_frames(MAX_COUNTED_FRAMES + 5)
    picture = picture_of(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert analyze(picture)["frames"] == MAX_COUNTED_FRAMES


def chained_tiff(pages: int, encode: Encode) -> bytes:
    """A TIFF of `pages` pages that all share one 1x1 strip: its first IFD copied onwards."""
    data = encode(Image.new("L", (1, 1), 9), "TIFF")
    order = "<"
    (first,) = struct.unpack_from(order + "I", data, 4)
    (entries,) = struct.unpack_from(order + "H", data, first)
    ifd = data[first : first + 2 + 12 * entries]
    out = bytearray(data)
    previous_link = first + 2 + 12 * entries
    for _ in range(pages - 1):
        here = len(out)
        out[previous_link : previous_link + 4] = struct.pack(order + "I", here)
        out += ifd + bytes(4)
        previous_link = here + len(ifd)
    return bytes(out)


@pytest.mark.parametrize("pages", [1, 3, 7])
def test_tiff_pages(encode: Encode, pages: int) -> None:
    data = chained_tiff(pages, encode)
    assert Image.open(io.BytesIO(data)).n_frames == pages  # type: ignore[attr-defined]
    result = analyze(decode(data, max_bytes=10_000_000, max_pixels=1_000))
    assert result["frames"] == pages
    assert result["animated"] is False  # pages, not an animation


@pytest.mark.parametrize(
    ("mode", "params", "header"),
    [
        ("RGB", {}, b"II*\x00"),
        ("I;16B", {}, b"MM\x00*"),  # Pillow writes big-endian files for big-endian modes
        ("RGB", {"big_tiff": True}, b"II+\x00"),
    ],
)
def test_multipage_tiff_layouts(
    picture_of: PictureOf, mode: str, params: dict[str, bool], header: bytes
) -> None:
    pages = [Image.new(mode, (5, 5), colour) for colour in (1, 2, 3)]
    picture = picture_of(pages[0], "TIFF", save_all=True, append_images=pages[1:], **params)
    assert picture.data[:4] == header
    assert analyze(picture)["frames"] == 3


def test_tiff_page_count_is_capped_and_survives_loops(encode: Encode) -> None:
    data = chained_tiff(MAX_COUNTED_FRAMES + 5, encode)
    picture = decode(data, max_bytes=10_000_000, max_pixels=1_000)
    assert analyze(picture)["frames"] == MAX_COUNTED_FRAMES
    looped = bytearray(chained_tiff(3, encode))
    looped[-4:] = looped[4:8]  # the last page links back to the first
    picture = decode(bytes(looped), max_bytes=10_000_000, max_pixels=1_000)
    assert analyze(picture)["frames"] == 3


def test_animated_webp_and_apng(picture_of: PictureOf) -> None:
    frames = [Image.new("RGB", (4, 4), colour) for colour in ("red", "lime", "blue")]
    for format in ("WEBP", "PNG"):
        picture = picture_of(frames[0], format, save_all=True, append_images=frames[1:])
        result = analyze(picture)
        assert (result["frames"], result["animated"]) == (3, True), format


@pytest.mark.parametrize("format", ["HEIF", "AVIF", "WEBP"])
def test_orientation_in_other_formats(picture_of: PictureOf, photo: Photo, format: str) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 8
    exif[ExifTags.Base.Make] = "Apple"
    picture = picture_of(photo(3, (40, 20)), format, exif=exif.tobytes())
    result = analyze(picture)
    assert result["format"] == format
    assert result["exif"]["camera_make"] == "Apple"
    assert (result["oriented_width"], result["oriented_height"]) == picture.oriented.size


@pytest.mark.parametrize(
    "exif", [b"XY\x00*\x00\x00\x00\x08", b"MM\x00*\x00\x00\x00"], ids=["header", "short"]
)
def test_unreadable_exif_block_is_logged_and_left_out(
    picture_of: PictureOf, caplog: pytest.LogCaptureFixture, exif: bytes
) -> None:
    picture = picture_of(Image.new("RGB", (6, 4)), "PNG", exif=exif)
    assert picture.image.info["exif"].endswith(exif)
    result = analyze(picture)
    assert result["exif"] is None
    assert (result["width"], result["oriented_width"]) == (6, 6)
    assert "Ignoring unreadable EXIF" in caplog.text
