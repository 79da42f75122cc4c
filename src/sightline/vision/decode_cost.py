"""What a picture will hold in memory, read from its header before any pixel is decoded.

A file's size says nothing about its pixels: a 20 KB 1-bit PNG of 8900x8900 pixels decodes to
79 MB, and analysing it holds more than a gigabyte. Decoding reserves these figures from the
process's memory budget first (`sightline.memory_budget`), and refuses what could never fit.

Bytes per pixel, by the stage that holds them (Pillow keeps RGB in four bytes, the fourth
padding); measured against the process's resident memory by `bench/decode_memory.py
--estimates`:

- decoding: the source pixels in Pillow's layout for their mode, plus what the format's
  decoder keeps beside them while the picture is open (WEBP holds its own canvas and a copy
  of the decoded frame; libavif and libheif their output planes);
- turning upright (`Picture.oriented`): a transposed copy of the source (made even when nothing
  turns), 16-bit and float pixels scaled to 8 bits through a float64 array, the upright RGB(A);
- analysing: the upright RGB(A), its flattening onto white when it has alpha (`Picture.rgb`),
  the full-size (H, W, 3) array the models start from (`pixels.rgb_array`), and the largest
  passing full-size copies (OCR's BGR array with its upright turn; smaller: the thumbnail's
  copy, `rgb_array`'s bytes on their way to numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from sightline.vision.base import HIGH_BIT_DEPTH_MODES, has_alpha

UPRIGHT_BYTES = 4
FLATTENED_BYTES = 4
ARRAY_BYTES = 3
PASSING_COPY_BYTES = 6
GREY_SCALING_BYTES = 10  # float64 pixels, their 8-bit result and its greyscale image
DECODER_BYTES = {"WEBP": 12, "AVIF": 6, "HEIF": 4}


def stored_bytes_per_pixel(mode: str) -> int:
    """Bytes per pixel of Pillow's storage for an image of this mode."""
    if mode in ("1", "L", "P"):
        return 1  # bilevel too: one byte per pixel, not one bit
    if mode.startswith("I;16"):
        return 2
    return 4


@dataclass(frozen=True)
class DecodeCost:
    """Peak bytes one picture holds: `decoded` to check it (an upload), `analysed` to run
    every feature on it."""

    pixels: int
    decoded: int
    analysed: int

    @classmethod
    def of(cls, image: Image.Image) -> DecodeCost:
        """From an opened image whose pixels are not loaded yet: format, mode, size, info."""
        pixels = image.width * image.height
        source = pixels * stored_bytes_per_pixel(image.mode)
        decoded = source + pixels * DECODER_BYTES.get(image.format or "", 0)
        upright = pixels * UPRIGHT_BYTES
        scaling = pixels * GREY_SCALING_BYTES if image.mode in HIGH_BIT_DEPTH_MODES else 0
        turning = source + scaling + upright
        analysing = (
            upright
            + (pixels * FLATTENED_BYTES if has_alpha(image) else 0)
            + pixels * (ARRAY_BYTES + PASSING_COPY_BYTES)
        )
        return cls(pixels, decoded, decoded + max(turning, analysing))
