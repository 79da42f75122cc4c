"""A semantic hit's score: its cosine on the query's own scale, through the fitted curve."""

from __future__ import annotations

import numpy as np
import pytest

from sightline.search.relevance import CONSE, Baseline, Calibration


def test_a_cosine_is_measured_against_the_querys_usual_cosines() -> None:
    baseline = Baseline.of(np.array([0.1, 0.2, 0.3]))
    assert baseline.mean == pytest.approx(0.2)
    assert baseline.standardised(0.2) == pytest.approx(0.0)
    assert baseline.standardised(0.2 + baseline.deviation) == pytest.approx(1.0)


def test_a_query_as_near_to_every_reference_has_a_usable_scale() -> None:
    baseline = Baseline.of(np.full(5, 0.4))
    assert baseline.deviation == 1.0
    assert baseline.standardised(0.4) == 0.0


def test_the_score_is_a_probability_that_rises_with_the_cosine() -> None:
    baseline = Baseline(mean=0.2, deviation=0.05)
    scores = [CONSE.score(cosine, baseline) for cosine in np.linspace(-1, 1, 41)]
    assert all(0 <= score <= 1 for score in scores)
    assert scores == sorted(scores) and scores[0] < 0.01 and scores[-1] > 0.99


def test_the_curve_is_the_fitted_logistic() -> None:
    curve = Calibration(slope=2.0, intercept=-1.0)
    assert curve.score(0.5, Baseline(0.0, 1.0)) == pytest.approx(0.5)
    assert curve.score(1.0, Baseline(0.0, 1.0)) == pytest.approx(1 / (1 + np.exp(-1.0)))
    # Far past either end it saturates instead of overflowing.
    assert curve.score(-1.0, Baseline(0.0, 1e-9)) == pytest.approx(0.0)
    assert curve.score(1.0, Baseline(0.0, 1e-9)) == 1.0
