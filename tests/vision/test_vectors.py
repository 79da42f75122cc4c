"""The numeric helpers shared by classifiers and embeddings."""

from __future__ import annotations

import numpy as np

from sightline.vision.vectors import rounded, softmax, unit_length


def test_softmax_sums_to_one_along_the_last_axis_without_overflow() -> None:
    logits = np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]])
    np.testing.assert_allclose(softmax(logits), [[0.5, 0.5], [0.25, 0.75]])
    assert softmax(np.zeros(4, np.float32)).dtype == np.float32


def test_unit_length_scales_each_row_and_keeps_zeros() -> None:
    rows = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    result = unit_length(rows)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(unit_length(np.array([0.0, 2.0])), [0.0, 1.0])


def test_rounded_gives_six_decimals() -> None:
    assert rounded(np.array([0.12345678, -1 / 3])) == [0.123457, -0.333333]
