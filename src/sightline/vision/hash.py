"""Perceptual hashes, for finding the same picture resized, recompressed or lightly edited.

Result::

    {"phash": "c3f0...", "dhash": "...", "ahash": "...", "whash": "..."}

Each is 64 bits as 16 lowercase hex digits (imagehash's own string form). Pictures whose hashes
differ in few bits (`sightline.indexing.hamming_distance`) look alike; near-duplicate search
uses `phash`.
"""

from __future__ import annotations

import imagehash
from PIL import Image

from sightline.indexing import IndexEntries
from sightline.vision.base import Analysis, Independent, Inputs, Picture, ResultModel

# The hashes shrink to 32 pixels at most, except whash, which works at the largest power of two
# that fits the image (1024 for a photo, 10x slower): a shared small grey copy keeps all four
# fast, and it is large enough that the final resize inside each hash still averages well.
HASH_SOURCE_SIDE = 128


class HashResult(ResultModel):
    phash: str
    dhash: str
    ahash: str
    whash: str

    def index_entries(self) -> IndexEntries:
        return IndexEntries(phash=self.phash)


class HashAnalyzer(Independent):
    name = "hash"
    version = "1"
    result_model = HashResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        grey = picture.rgb.convert("L").resize(
            (HASH_SOURCE_SIDE, HASH_SOURCE_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0
        )
        return Analysis(
            HashResult(
                phash=str(imagehash.phash(grey)),
                dhash=str(imagehash.dhash(grey)),
                ahash=str(imagehash.average_hash(grey)),
                whash=str(imagehash.whash(grey)),
            )
        )
