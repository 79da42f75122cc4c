"""Turn untrusted bytes into a `Picture`, or a clear `SightlineError` saying why not."""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image, UnidentifiedImageError

from sightline.errors import (
    EmptyImage,
    ImageDimensionsTooLarge,
    ImageTooLarge,
    InvalidImageFormat,
)
from sightline.vision.base import Picture

pillow_heif.register_heif_opener()

# Our own `max_pixels` check below replaces Pillow's process-wide guard: it is configurable,
# raises an error instead of a warning, and runs before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None

CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
    "AVIF": "image/avif",
}
Image.init()
# MPO is not opened by name: Pillow's JPEG opener returns it for multi-picture JPEGs.
OPENERS = tuple(name for name in CONTENT_TYPES if name in Image.OPEN)


def decode(data: bytes, *, max_bytes: int, max_pixels: int) -> Picture:
    """Open and fully decode the first frame, so corrupt and truncated files fail here."""
    if not data:
        raise EmptyImage("The file is empty (zero bytes).")
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"The file has {len(data)} bytes; the limit is {max_bytes}.", limit=max_bytes
        )
    try:
        image = Image.open(io.BytesIO(data), formats=OPENERS)
    except UnidentifiedImageError as exc:
        raise InvalidImageFormat(
            "The file is not an image in a supported format "
            f"({', '.join(sorted(set(CONTENT_TYPES.values())))})."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageFormat(f"The image is truncated or corrupt: {exc}") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidImageFormat(f"The image has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise ImageDimensionsTooLarge(
            f"The image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}.",
            limit=max_pixels,
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise InvalidImageFormat(f"The image data is truncated or corrupt: {exc}") from exc
    assert image.format is not None  # every opener in OPENERS sets it
    return Picture(
        data=data, image=image, format=image.format, content_type=CONTENT_TYPES[image.format]
    )
