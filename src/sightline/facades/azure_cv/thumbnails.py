"""The picture `generateThumbnail` answers: the requested size cut from the image, around the
smart crop Sightline found (`smart_crop`) or around the centre, then scaled."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from sightline.vision.geometry import Box

JPEG_QUALITY = 90


def centred(width: int, height: int, ratio: float, around: Box | None = None) -> Box:
    """The largest box of aspect `ratio` inside `around` (default: the whole picture), centred
    on it."""
    region = around or Box(x=0, y=0, w=width, h=height)
    if region.w / region.h > ratio:
        w, h = max(1, round(region.h * ratio)), region.h
    else:
        w, h = region.w, max(1, round(region.w / ratio))
    return Box(x=region.x + (region.w - w) // 2, y=region.y + (region.h - h) // 2, w=w, h=h)


def thumbnail(data: bytes, width: int, height: int, crop: Box | None) -> bytes:
    """A JPEG of `width` x `height` from the (already validated) image `data`: `crop`, trimmed
    to the requested aspect about its centre, or the picture's centre without one."""
    with Image.open(io.BytesIO(data)) as opened:
        picture = ImageOps.exif_transpose(opened).convert("RGB")
    box = centred(picture.width, picture.height, width / height, crop)
    cut = picture.crop((box.x, box.y, box.x + box.w, box.y + box.h))
    out = io.BytesIO()
    cut.resize((width, height), Image.Resampling.LANCZOS).save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
