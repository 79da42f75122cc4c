from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from PIL import Image, ImageEnhance

from sightline.indexing import IndexEntries, hamming_distance
from sightline.vision import Picture
from sightline.vision.hash import HashAnalyzer, HashResult
from support.analysis import result_of

PictureOf = Callable[..., Picture]
Photo = Callable[..., Image.Image]
KINDS = ("phash", "dhash", "ahash", "whash")


def hashes(picture: Picture) -> dict[str, str]:
    result = result_of(HashAnalyzer(), picture)
    assert set(result) == set(KINDS)
    return result


def test_hashes_are_64_bit_lowercase_hex(picture_of: PictureOf, photo: Photo) -> None:
    for value in hashes(picture_of(photo(1))).values():
        assert re.fullmatch(r"[0-9a-f]{16}", value)


def test_identical_pictures_have_identical_hashes(picture_of: PictureOf, photo: Photo) -> None:
    assert hashes(picture_of(photo(2), "PNG")) == hashes(picture_of(photo(2), "BMP"))


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_edited_copy_is_near(picture_of: PictureOf, photo: Photo, seed: int) -> None:
    original = photo(seed, (800, 600))
    copy = original.crop((8, 6, 792, 594)).resize((300, 225), Image.Resampling.BILINEAR)
    copy = ImageEnhance.Contrast(ImageEnhance.Brightness(copy).enhance(1.1)).enhance(0.9)
    a = hashes(picture_of(original, "PNG"))
    b = hashes(picture_of(copy, "JPEG", quality=40))
    for kind in KINDS:
        assert hamming_distance(a[kind], b[kind]) <= 6, kind


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_unrelated_pictures_are_far(picture_of: PictureOf, photo: Photo, seed: int) -> None:
    a = hashes(picture_of(photo(4)))
    b = hashes(picture_of(photo(seed)))
    assert hamming_distance(a["phash"], b["phash"]) >= 16


def test_orientation_is_applied_before_hashing(picture_of: PictureOf, photo: Photo) -> None:
    upright = photo(8, (300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter left; displayed turned back clockwise
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    a = hashes(picture_of(upright, "PNG"))
    b = hashes(picture_of(stored, "PNG", exif=exif))
    assert hamming_distance(a["phash"], b["phash"]) <= 2


@pytest.mark.parametrize("size", [(1, 1), (1, 1000), (1000, 1)])
def test_degenerate_shapes(picture_of: PictureOf, size: tuple[int, int]) -> None:
    for value in hashes(picture_of(Image.new("RGB", size, (90, 30, 200)))).values():
        assert re.fullmatch(r"[0-9a-f]{16}", value)


def test_the_phash_is_declared_for_the_near_duplicate_index(picture_of: PictureOf) -> None:
    result = hashes(picture_of(Image.new("RGB", (64, 48), (90, 30, 200))))
    entries = HashResult.model_validate(result).index_entries()
    assert entries == IndexEntries(phash=result["phash"])
