"""WEBP thumbnails of the upright picture, one per size in `THUMBNAIL_SIZES`.

Result::

    {"content_type": "image/webp",
     "sizes": {"128": {"sha256": "…", "content_type": "image/webp", "size": 2210, "width": 128,
                       "height": 96}, "256": {…}, "512": {…}}}

Each thumbnail fits in a square of that side, keeps the aspect ratio and alpha, and is never
larger than the picture. Encoding is deterministic, so identical pictures share thumbnail blobs.
The images themselves are the analysis's artifacts (`sizes.128`, …), stored by the caller.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image

from sightline.errors import InvalidParameter
from sightline.vision.base import (
    Analysis,
    Artifact,
    ArtifactRef,
    Independent,
    Inputs,
    Picture,
    ResultModel,
)
from sightline.vision.pixels import shrunk, small_image

THUMBNAIL_SIZES = (128, 256, 512)
CONTENT_TYPE = "image/webp"
WEBP_QUALITY = 80
# Encoder effort 0 of 0-6: on bench/models.py's pictures (128, 256 and 512 px) 1.7 times faster
# than effort 2 and 3.5 times faster than the default 4, for files about a fifth larger at the
# same quality (PSNR 37.3 dB against 36.7); thumbnails are made for every upload, so speed wins.
WEBP_METHOD = 0


def checked_size(size: int, sizes: Sequence[int], what: str) -> int:
    """`size` if it is one of `sizes` (a thumbnail's, a face's); refused, naming them, if not."""
    if size not in sizes:
        raise InvalidParameter(
            f"{what} size must be one of {', '.join(map(str, sizes))}.", allowed=list(sizes)
        )
    return size


class ThumbnailResult(ResultModel):
    content_type: str
    sizes: dict[str, ArtifactRef]  # by the side of the square each fits in: "128", "256", …

    def blob(self, side: int) -> str | None:
        """The sha256 of the thumbnail that fits in a square of this side, if one was made."""
        found = self.sizes.get(str(side))
        return None if found is None else found.sha256


class ThumbnailAnalyzer(Independent):
    name = "thumbnail"
    version = "2"
    result_model = ThumbnailResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        sizes: dict[str, Artifact] = {}
        # Largest first, each from the previous one: only the first resize reads the full
        # picture, and without alpha to keep that one is the small copy the statistical
        # features share. Bicubic, like that copy: 41-52 dB from Lanczos at these sizes, at
        # two thirds of its cost.
        largest, *smaller = sorted(THUMBNAIL_SIZES, reverse=True)
        source = picture.oriented
        thumbnail = (
            small_image(picture, largest) if source.mode == "RGB" else shrunk(source, largest)
        )
        sizes[str(largest)] = _encode(thumbnail)
        for side in smaller:
            thumbnail = thumbnail.copy()
            thumbnail.thumbnail((side, side), Image.Resampling.BICUBIC, reducing_gap=3.0)
            sizes[str(side)] = _encode(thumbnail)
        artifacts = {f"sizes.{side}": sizes[str(side)] for side in THUMBNAIL_SIZES}
        result = ThumbnailResult(
            content_type=CONTENT_TYPE,
            sizes={str(side): ArtifactRef.of(sizes[str(side)]) for side in THUMBNAIL_SIZES},
        )
        return Analysis(result, artifacts)


def _encode(image: Image.Image) -> Artifact:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return Artifact(buffer.getvalue(), CONTENT_TYPE, image.width, image.height)
