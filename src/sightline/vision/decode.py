"""Turn untrusted bytes into a `Picture`, or a clear `SightlineError` saying why not.

`decode` checks one file; a `Decoder` also keeps the pictures decoded at once in a process
within its memory budget."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import pillow_heif
from PIL import Image, UnidentifiedImageError

from sightline.errors import (
    EmptyImage,
    ImageDimensionsTooLarge,
    ImageMemoryTooLarge,
    ImageTooLarge,
    InvalidImageFormat,
)
from sightline.memory_budget import MemoryBudget
from sightline.vision.base import Picture
from sightline.vision.decode_cost import DecodeCost

pillow_heif.register_heif_opener()
MIB = 1024 * 1024

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
# Formats whose decoder can skip pixels a check does not need while still reading every byte.
SCALED_CHECK_FORMATS = frozenset({"JPEG", "MPO"})


def decode(data: bytes, *, max_bytes: int, max_pixels: int) -> Picture:
    """Open and fully decode the first frame, so corrupt and truncated files fail here."""
    return _load(open_image(data, max_bytes=max_bytes, max_pixels=max_pixels), data)


def open_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Read the header (format, mode, size) and check the limits; no pixel is decoded yet."""
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
    return image


def _load(image: Image.Image, data: bytes, *, scaled: bool = False) -> Picture:
    """`scaled`: for a check, not for analysis. A JPEG is then decoded at 1/8 scale: libjpeg
    still reads and entropy-decodes every coefficient, so a truncated or corrupt file fails
    exactly as at full size, but skips most of the inverse DCT, the colour conversion and 63/64
    of the pixels' memory. The picture keeps the file's own size."""
    size = image.size
    if scaled and image.format in SCALED_CHECK_FORMATS:
        image.draft(None, (1, 1))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise InvalidImageFormat(f"The image data is truncated or corrupt: {exc}") from exc
    assert image.format is not None  # every opener in OPENERS sets it
    return Picture(
        data=data,
        image=image,
        format=image.format,
        content_type=CONTENT_TYPES[image.format],
        size=size,
    )


class Decoder:
    """Decodes within one process's limits: each file's pixels, and the memory that all the
    pictures it holds at once take (`budget`), reserved from each header before decoding."""

    def __init__(self, max_pixels: int, budget: MemoryBudget) -> None:
        self.max_pixels = max_pixels
        self.budget = budget

    @contextmanager
    def picture(
        self, data: bytes, *, max_bytes: int | None = None, analysed: bool = True
    ) -> Iterator[Picture]:
        """The decoded picture, open for the block: its memory is reserved for analysis, or
        with `analysed=False` only for decoding (an upload's checks, whose pixels may be
        decoded at a reduced scale: see `_load`). `max_bytes=None` is for
        files accepted before. A picture whose analysis alone needs more than the whole budget
        is refused, also when only checked: nothing is accepted that could not be analysed."""
        image = open_image(
            data,
            max_bytes=len(data) if max_bytes is None else max_bytes,
            max_pixels=self.max_pixels,
        )
        cost = DecodeCost.of(image)
        if cost.analysed > self.budget.capacity:
            image.close()
            raise ImageMemoryTooLarge(
                f"The image is {image.width}x{image.height} = {cost.pixels} pixels (mode "
                f"{image.mode}): decoding and analysing it takes about "
                f"{cost.analysed / MIB:.1f} MiB of memory; the limit is "
                f"{self.budget.capacity / MIB:.1f} MiB.",
                limit=self.budget.capacity,
                needed=cost.analysed,
            )
        with self.budget.reserve(cost.analysed if analysed else cost.decoded):
            try:
                picture = _load(image, data, scaled=not analysed)
            except BaseException:
                image.close()
                raise
            try:
                yield picture
            finally:
                picture.close()
