"""What results declare for the catalog's indexes, and the hash distance near duplicates use."""

from __future__ import annotations

import pytest

from sightline.indexing import hamming_distance, no_index_entries


def test_hamming_distance() -> None:
    assert hamming_distance("0000000000000000", "0000000000000000") == 0
    assert hamming_distance("ffffffffffffffff", "0000000000000000") == 64
    assert hamming_distance("f0f0000000000001", "F0F0000000000000") == 1
    with pytest.raises(ValueError, match="differ in length"):
        hamming_distance("ff", "fff")


def test_the_default_indexer_knows_no_feature() -> None:
    assert no_index_entries("tags", {"tags": [], "classes": []}) is None
