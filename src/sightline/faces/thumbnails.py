"""A stored face as a small square picture, so that people can see whom a face id is: the web
app's face lists and cluster review, or any client's.

Made on request, not stored: a face's crop is only wanted while someone looks at it, and
browsers keep it (the answer is immutable for a face id). The source is the image's largest
thumbnail when the face is large enough in it (a WEBP of 512 pixels decodes in a few
milliseconds), else the original.
"""

from __future__ import annotations

import io

from PIL import Image

from sightline.errors import NotReady
from sightline.faces.service import FaceService
from sightline.faces.store import Box
from sightline.images.service import ImageService
from sightline.storage.records import ImageRecord
from sightline.vision.thumbnail import (
    THUMBNAIL_SIZES,
    WEBP_METHOD,
    WEBP_QUALITY,
    checked_size,
)

FACE_THUMBNAIL_SIZES = (64, 128, 256)
MARGIN = 0.25  # of the face's longer side, on every side: the hair and chin, not the shoulders
SOURCE_SIDE = max(THUMBNAIL_SIZES)
# The source thumbnail may be a little smaller than the answer: a 100-pixel face scaled to 128
# looks the same as one cut from the original, at a fraction of the decoding.
UPSCALE_ALLOWED = 1.25


def face_thumbnail(faces: FaceService, face_id: str, side: int, *, collection: str | None) -> bytes:
    """A WEBP square of at most `side` pixels around the face (never enlarged beyond the
    picture's own pixels)."""
    checked_size(side, FACE_THUMBNAIL_SIZES, "Face thumbnail")
    face = faces.face(face_id, collection=collection)
    images = faces.images
    record = images.get(face.image_id, collection=face.collection)
    state = record.features.get(face.feature)
    result = state.result if state is not None and state.result is not None else {}
    # The box is in pixels of the upright picture as analysed, whose size the result keeps.
    width = int(result.get("width", record.width))
    height = int(result.get("height", record.height))
    square = _square(face.box, width, height)
    reduced = _thumbnail_source(images, record, max(width, height), square[2] - square[0], side)
    if reduced is not None:
        scale = reduced.width / width
        left, top, right, bottom = (round(value * scale) for value in square)
        crop = reduced.crop((left, top, right, bottom))
    else:
        with images.open_blob(record.sha256) as stream:
            data = stream.read()
        with images.decoder.picture(data) as picture:
            crop = picture.rgb.crop(square)
    if crop.width > side:
        crop = crop.resize((side, side), Image.Resampling.BICUBIC, reducing_gap=3.0)
    buffer = io.BytesIO()
    crop.convert("RGB").save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return buffer.getvalue()


def _square(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The face with its margin, as a square inside the picture (moved in from an edge, and
    as large as the picture allows)."""
    side = min(round(max(box.w, box.h) * (1 + 2 * MARGIN)), width, height)
    side = max(side, 1)
    left = box.x + box.w / 2 - side / 2
    top = box.y + box.h / 2 - side / 2
    left = round(min(max(left, 0), width - side))
    top = round(min(max(top, 0), height - side))
    return left, top, left + side, top + side


def _thumbnail_source(
    images: ImageService, record: ImageRecord, longer_side: int, square_side: int, side: int
) -> Image.Image | None:
    """The image's largest thumbnail, decoded, if the face's square is large enough in it."""
    in_thumbnail = square_side * min(1.0, SOURCE_SIDE / longer_side)
    if in_thumbnail * UPSCALE_ALLOWED < min(side, square_side):
        return None
    try:
        sha256 = images.thumbnail_of(record, SOURCE_SIDE)
    except NotReady:
        return None
    with images.open_blob(sha256) as stream:
        image = Image.open(io.BytesIO(stream.read()))
        image.load()
    return image
