"""Perceptual hashes, for finding the same picture resized, recompressed or lightly edited.

Result::

    {"phash": "c3f0...", "dhash": "...", "ahash": "...", "whash": "..."}

Each is 64 bits as 16 lowercase hex digits (imagehash's own string form). Pictures whose hashes
differ in few bits (`hamming_distance`) look alike; near-duplicate search uses `phash`.
"""

from __future__ import annotations

import imagehash
from PIL import Image

from sightline.vision.base import JSON, Picture

# The hashes shrink to 32 pixels at most, except whash, which works at the largest power of two
# that fits the image (1024 for a photo, 10x slower): a shared small grey copy keeps all four
# fast, and it is large enough that the final resize inside each hash still averages well.
HASH_SOURCE_SIDE = 128


class HashAnalyzer:
    name = "hash"
    version = "1"

    def analyze(self, picture: Picture) -> JSON:
        grey = picture.rgb.convert("L").resize(
            (HASH_SOURCE_SIDE, HASH_SOURCE_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0
        )
        return {
            "phash": str(imagehash.phash(grey)),
            "dhash": str(imagehash.dhash(grey)),
            "ahash": str(imagehash.average_hash(grey)),
            "whash": str(imagehash.whash(grey)),
        }


def hamming_distance(a_hex: str, b_hex: str) -> int:
    """Bits that differ between two hashes of the same kind, given as hex strings."""
    if len(a_hex) != len(b_hex):
        raise ValueError(f"Hashes differ in length: {len(a_hex)} and {len(b_hex)} hex digits.")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
