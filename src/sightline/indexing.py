"""What a feature's result adds to the catalog's indexes, as its analyzer declares it.

The catalog never reads a result by feature name: the composition root hands it an `Indexer`,
which reads a stored result back into its analyzer's typed model and asks it for its
`IndexEntries`. Text documents (`catalog.text_documents`) are made of the words, near-duplicate
search of the perceptual hash, vector search of the vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Labels of the user's classifiers and detectors at this confidence or more are words of the
# picture: what their own top-1 threshold would be.
MIN_LABEL_CONFIDENCE = 0.5


@dataclass(frozen=True)
class FaceEntry:
    """A face and its descriptor: `position` in the result's faces, `box` as `(x, y, w, h)` in
    the result's pixels."""

    position: int
    box: tuple[int, int, int, int]
    confidence: float
    vector: Sequence[float]


@dataclass(frozen=True)
class IndexEntries:
    """`labels`: predicted labels (the documents' strongest column). `tags`: descriptive words
    with their confidence (the documents put sure ones apart from weak ones). `synonyms`: other
    words for the tags, indexed below them. `text`: lines of text read in the picture. `phash`:
    the perceptual hash near duplicates are found by. `vector`: the vector nearest-neighbour
    search ranks by. `faces`: the faces that face search, people and clusters are made of
    (none found is an empty list, not None)."""

    labels: Sequence[str] = ()
    tags: Sequence[tuple[str, float]] = ()
    synonyms: Sequence[str] = ()
    text: Sequence[str] = ()
    phash: str | None = None
    vector: Sequence[float] | None = None
    faces: Sequence[FaceEntry] | None = None  # None: the result has no faces to give


# (feature name, stored result) -> its entries; None when nothing here knows the feature.
Indexer = Callable[[str, dict[str, Any]], IndexEntries | None]


def no_index_entries(_feature: str, _result: dict[str, Any]) -> IndexEntries | None:
    """An indexer that knows no feature: documents hold file names only, nothing else."""
    return None


def hamming_distance(a_hex: str, b_hex: str) -> int:
    """Bits that differ between two hashes of the same kind, given as hex strings."""
    if len(a_hex) != len(b_hex):
        raise ValueError(f"Hashes differ in length: {len(a_hex)} and {len(b_hex)} hex digits.")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
