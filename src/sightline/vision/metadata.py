"""Container facts and EXIF, bounded so that a hostile file cannot bloat or break the result.

Result::

    {"format", "content_type", "width", "height", "oriented_width", "oriented_height",
     "mode", "bit_depth", "has_alpha", "animated", "frames", "file_size", "sha256",
     "icc_profile", "dpi", "exif"}

`exif` is null when the file carries none; otherwise it holds the well-known fields
(`camera_make`, `camera_model`, `taken_at`, `orientation`, `gps`, `software`, `lens_model`,
`exposure_time`, `f_number`, `iso`, `focal_length`) and `tags`: every other named tag whose
value is text or numbers, truncated and capped.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultModel,
    ResultPart,
)

logger = logging.getLogger(__name__)

MAX_COUNTED_FRAMES = 10_000
MAX_TAGS = 200
MAX_TEXT = 256
MAX_LIST = 16

# Bits per channel of the decoded pixels; Pillow reduces some deeper files (16-bit RGB PNG,
# 10-bit HEIF) to 8 bits on decoding, so this describes what analyzers see.
BIT_DEPTHS = {
    "1": 1,
    "L": 8,
    "LA": 8,
    "La": 8,
    "P": 8,
    "PA": 8,
    "RGB": 8,
    "RGBA": 8,
    "RGBa": 8,
    "RGBX": 8,
    "CMYK": 8,
    "YCbCr": 8,
    "LAB": 8,
    "HSV": 8,
    "I;16": 16,
    "I;16B": 16,
    "I;16L": 16,
    "I;16N": 16,
    "I": 32,
    "F": 32,
}
ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
# Formats whose extra frames are an animation; extra frames elsewhere are pages (TIFF),
# previews or depth maps (MPO) and image collections (HEIF).
ANIMATION_FORMATS = frozenset({"GIF", "PNG", "WEBP", "AVIF"})
# Orientations 5-8 rotate by a quarter turn, so the displayed picture is transposed.
TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})

Base = ExifTags.Base
GPS = ExifTags.GPS
# Tags surfaced as named fields, pointers to other IFDs, and TIFF layout tags (a TIFF's own
# tags double as its EXIF): none of them belongs in `tags`.
NOT_IN_TAGS = frozenset(
    {
        Base.Make,
        Base.Model,
        Base.Orientation,
        Base.Software,
        Base.DateTimeOriginal,
        Base.OffsetTimeOriginal,
        Base.LensModel,
        Base.ExposureTime,
        Base.FNumber,
        Base.ISOSpeedRatings,
        Base.FocalLength,
        ExifTags.IFD.Exif,
        ExifTags.IFD.GPSInfo,
        ExifTags.IFD.Interop,
        Base.ImageWidth,
        Base.ImageLength,
        Base.BitsPerSample,
        Base.Compression,
        Base.PhotometricInterpretation,
        Base.StripOffsets,
        Base.SamplesPerPixel,
        Base.RowsPerStrip,
        Base.StripByteCounts,
        Base.PlanarConfiguration,
        Base.TileWidth,
        Base.TileLength,
        Base.TileOffsets,
        Base.TileByteCounts,
        Base.SubIFDs,
        Base.JpegIFOffset,
        Base.JpegIFByteCount,
    }
)
NOT_IN_GPS_TAGS = frozenset(
    {
        GPS.GPSLatitudeRef,
        GPS.GPSLatitude,
        GPS.GPSLongitudeRef,
        GPS.GPSLongitude,
        GPS.GPSAltitudeRef,
        GPS.GPSAltitude,
    }
)
# What Pillow raises on malformed EXIF (bad offsets, short reads, wrong types): a broken EXIF
# block must not cost the picture its other metadata.
EXIF_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    struct.error,
    SyntaxError,
    ZeroDivisionError,
    OverflowError,
)

Value = str | int | float | list[int | float]


class Gps(ResultPart):
    latitude: float
    longitude: float
    altitude: int | float | None  # as the file gives it: whole metres stay whole


class Exif(ResultPart):
    camera_make: str | None
    camera_model: str | None
    taken_at: str | None
    orientation: int | None
    gps: Gps | None
    software: str | None
    lens_model: str | None
    exposure_time: int | float | None
    f_number: int | float | None
    iso: int | None
    focal_length: int | float | None
    tags: dict[str, Value]

    def is_empty(self) -> bool:
        return all(getattr(self, name) in (None, {}) for name in type(self).model_fields)


class MetadataResult(ResultModel):
    format: str
    content_type: str
    width: int
    height: int
    oriented_width: int
    oriented_height: int
    mode: str
    bit_depth: int | None
    has_alpha: bool
    animated: bool
    frames: int
    file_size: int
    sha256: str
    icc_profile: bool
    dpi: list[float] | None
    exif: Exif | None


class MetadataAnalyzer(Independent):
    name = "metadata"
    version = "1"
    result_model = MetadataResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        image = picture.image
        tags, gps = _read_exif(image)
        orientation = _orientation(tags.get(Base.Orientation))
        width, height = image.size
        transposed = orientation in TRANSPOSING_ORIENTATIONS
        frames = _count_frames(picture)
        exif = _exif_result(tags, gps, orientation)
        result = MetadataResult(
            format=picture.format,
            content_type=picture.content_type,
            width=width,
            height=height,
            oriented_width=height if transposed else width,
            oriented_height=width if transposed else height,
            mode=image.mode,
            bit_depth=BIT_DEPTHS.get(image.mode),
            has_alpha=image.mode in ALPHA_MODES or "transparency" in image.info,
            animated=frames > 1 and picture.format in ANIMATION_FORMATS,
            frames=frames,
            file_size=len(picture.data),
            sha256=picture.sha256,
            icc_profile=bool(image.info.get("icc_profile")),
            dpi=_dpi(image.info.get("dpi")),
            # A TIFF's layout tags double as EXIF; with nothing else there, it has none.
            exif=None if exif.is_empty() else exif,
        )
        return Analysis(result)


def _read_exif(image: Image.Image) -> tuple[dict[int, Any], dict[int, Any]]:
    """IFD0 merged with the Exif sub-IFD, and the GPS IFD; whatever part is unreadable is empty."""
    try:
        exif = image.getexif()
        tags: dict[int, Any] = dict(exif)
    except EXIF_ERRORS as exc:
        logger.warning("Ignoring unreadable EXIF: %s", exc)
        return {}, {}
    for pointer in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo):
        tags.pop(pointer, None)
    return tags | _read_ifd(exif, ExifTags.IFD.Exif), _read_ifd(exif, ExifTags.IFD.GPSInfo)


def _read_ifd(exif: Image.Exif, ifd: ExifTags.IFD) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(ifd))
    except EXIF_ERRORS as exc:
        logger.warning("Ignoring unreadable EXIF %s IFD: %s", ifd.name, exc)
        return {}


def _exif_result(tags: dict[int, Any], gps: dict[int, Any], orientation: int | None) -> Exif:
    iso = tags.get(Base.ISOSpeedRatings)
    if isinstance(iso, tuple):
        iso = iso[0] if iso else None
    return Exif(
        camera_make=_text(tags.get(Base.Make)),
        camera_model=_text(tags.get(Base.Model)),
        taken_at=_taken_at(tags.get(Base.DateTimeOriginal), tags.get(Base.OffsetTimeOriginal)),
        orientation=orientation,
        gps=_gps(gps),
        software=_text(tags.get(Base.Software)),
        lens_model=_text(tags.get(Base.LensModel)),
        exposure_time=_number(tags.get(Base.ExposureTime)),
        f_number=_number(tags.get(Base.FNumber)),
        iso=iso if isinstance(iso, int) and not isinstance(iso, bool) else None,
        focal_length=_number(tags.get(Base.FocalLength)),
        tags=_other_tags(tags, gps),
    )


def _other_tags(tags: dict[int, Any], gps: dict[int, Any]) -> dict[str, Value]:
    named = [
        (ExifTags.TAGS.get(tag), value) for tag, value in tags.items() if tag not in NOT_IN_TAGS
    ]
    named += [
        (ExifTags.GPSTAGS.get(tag), value)
        for tag, value in gps.items()
        if tag not in NOT_IN_GPS_TAGS
    ]
    other: dict[str, Value] = {}
    for name, raw in named:
        if len(other) == MAX_TAGS:
            break
        value = _value(raw)
        # Pillow names a few tag numbers alike; the first one read wins.
        if name is not None and value is not None and name not in other:
            other[name] = value
    return other


def _value(raw: object) -> Value | None:
    if isinstance(raw, tuple):
        numbers = [number for item in raw if (number := _number(item)) is not None]
        return numbers if 0 < len(numbers) == len(raw) <= MAX_LIST else None
    if isinstance(raw, str):
        return _text(raw)
    return _number(raw)


def _text(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    text = raw.strip("\x00 \t\r\n")
    return text[:MAX_TEXT] or None


def _number(raw: object) -> int | float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, IFDRational | float):
        value = float(raw)
        return value if math.isfinite(value) else None
    return None


def _orientation(raw: object) -> int | None:
    return raw if isinstance(raw, int) and 1 <= raw <= 8 else None


def _taken_at(raw: object, raw_offset: object) -> str | None:
    text = _text(raw)
    if text is None:
        return None
    try:
        taken = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return taken.replace(tzinfo=_utc_offset(raw_offset)).isoformat()


def _utc_offset(raw: object) -> tzinfo | None:
    """The OffsetTime* tag ("+02:00"); when it is missing or malformed the time stays local."""
    text = _text(raw)
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%z").tzinfo
    except ValueError:
        return None


def _gps(gps: Mapping[int, Any]) -> Gps | None:
    latitude = _coordinate(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef), "S", 90)
    longitude = _coordinate(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef), "W", 180)
    if latitude is None or longitude is None:
        return None
    altitude = _number(gps.get(GPS.GPSAltitude))
    if altitude is not None and gps.get(GPS.GPSAltitudeRef) in (1, b"\x01"):
        altitude = -altitude  # below sea level
    return Gps(
        latitude=latitude,
        longitude=longitude,
        altitude=None if altitude is None else round(altitude, 2),
    )


def _coordinate(raw: object, ref: object, negative: str, limit: float) -> float | None:
    if not isinstance(raw, tuple) or len(raw) != 3:
        return None
    parts = [float(number) for part in raw if (number := _number(part)) is not None]
    if len(parts) != 3:
        return None
    degrees, minutes, seconds = parts
    value = degrees + minutes / 60 + seconds / 3600
    if not 0 <= value <= limit:
        return None
    sign = -1 if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative else 1
    return round(sign * value, 7)


def _dpi(raw: object) -> list[float] | None:
    if not isinstance(raw, tuple) or len(raw) != 2:
        return None
    values = [round(float(number), 1) for part in raw if (number := _number(part)) is not None]
    return values if len(values) == 2 and min(values) > 0 else None


def _count_frames(picture: Picture) -> int:
    """Frames (or pages) in the file, at most MAX_COUNTED_FRAMES.

    Pillow's `n_frames` walks every GIF frame or TIFF page in Python (seconds for a 50 MB file
    of tiny frames), so those two are counted from their block structure with a cap; the other
    formats declare their frame count in a header.
    """
    if picture.format == "GIF":
        return _gif_frames(picture.data, MAX_COUNTED_FRAMES)
    if picture.format == "TIFF":
        return _tiff_pages(picture.data, MAX_COUNTED_FRAMES)
    frames = getattr(picture.image, "n_frames", 1)
    return frames if isinstance(frames, int) and frames >= 1 else 1


def _gif_frames(data: bytes, limit: int) -> int:
    """Count image descriptors, skipping extensions and image data by their sub-block sizes."""
    screen_flags = data[10]
    position = 13 + _color_table_size(screen_flags)
    frames = 0
    while position < len(data) and frames < limit:
        introducer = data[position]
        if introducer == 0x2C:  # image descriptor
            if position + 10 > len(data):
                break
            frames += 1
            # 10 bytes of descriptor, the local colour table, one byte of LZW code size.
            position += 10 + _color_table_size(data[position + 9]) + 1
            position = _skip_sub_blocks(data, position)
        elif introducer == 0x21:  # extension: a label byte, then sub-blocks
            position = _skip_sub_blocks(data, position + 2)
        else:  # trailer, or trailing garbage that Pillow would stop at too
            break
    return max(frames, 1)


def _color_table_size(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, position: int) -> int:
    while position < len(data):
        size = data[position]
        position += 1 + size
        if size == 0:
            break
    return position


def _tiff_pages(data: bytes, limit: int) -> int:
    """Follow the chain of IFDs (classic or BigTIFF), stopping at a loop or a bad offset."""
    order = "<" if data[:2] == b"II" else ">"
    (magic,) = struct.unpack_from(order + "H", data, 2)
    if magic == 43:
        count_format, entry_size, offset_format, first = "Q", 20, "Q", 8
    else:
        count_format, entry_size, offset_format, first = "H", 12, "I", 4
    count_size = struct.calcsize(count_format)
    offset = _read_uint(data, order + offset_format, first)
    pages = 0
    seen: set[int] = set()
    while offset and offset not in seen and pages < limit:
        seen.add(offset)
        entries = _read_uint(data, order + count_format, offset)
        if entries is None:
            break
        pages += 1
        offset = _read_uint(data, order + offset_format, offset + count_size + entries * entry_size)
    return max(pages, 1)


def _read_uint(data: bytes, layout: str, offset: int) -> int | None:
    try:
        value: int = struct.unpack_from(layout, data, offset)[0]
    except struct.error:
        return None
    return value
