"""How relevant a semantic (ConSE) hit is: the query's cosine to a picture's `semantic` vector,
mapped to a score in [0, 1], and the threshold under which a hit is not an answer.

A raw cosine says little on its own: some queries sit near everything ("gravel", "flower":
0.35-0.45 to most pictures), others near nothing ("photographer": 0.2). So the cosine is first
put on the query's own scale, the number of standard deviations it stands above the query's
cosines to the 1000 ImageNet class descriptions that every `semantic` vector is made of
(`Baseline`); a logistic curve fitted to labelled pairs then maps that to the score:

    z = (cosine - baseline mean) / baseline deviation
    score = 1 / (1 + exp(-(slope * z + intercept)))

Measured by `bench/semantic_calibration.py` (16 scikit-image/scikit-learn photos through the
real analyzers, 56 queries, 44 naming a picture there and 12 naming none; 896 pairs):
the standardised cosine separates relevant pairs better than the raw one (ROC AUC 0.896
against 0.848), and the fit is slope 1.44, intercept -2.83. By threshold on the score:

    threshold  relevant kept  precision  best hit kept*  non-matches dropped  absent: empty
       0.3         0.89          0.15        26/26              0.65               0/12
       0.4         0.89          0.19        26/26              0.74               1/12
       0.5         0.80          0.23        26/26              0.81               3/12
       0.6         0.71          0.28        25/26              0.87               4/12
       0.7         0.62          0.36        24/26              0.93               4/12

    * of the 26 queries whose intended picture the search ranks first

The default threshold, 0.5 (`SIGHTLINE_SEMANTIC_THRESHOLD`), is the highest that keeps every
right first answer ("animal" finds the cat at 0.59) while dropping four non-matches in five:
"hot drink" now finds the coffee (0.77) and no longer the coins (0.44) and grass (0.42) after
it. What remains above it is mostly the classifier's own confusion (the brick wall is close
to "rocket" and "time"), which no threshold on these vectors can tell from a match; queries
for what a collection lacks ("dog", "pizza") still return the nearest look-alikes in 9 of 12.

Refit (run the bench, copy its parameters into `CONSE`) whenever the `semantic` vectors or the
sentence model change. The curve is class-balanced: 0.5 is where a pair is as likely relevant
as not, whatever share of a collection matches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Baseline:
    """Where a query's cosines usually fall: its mean and standard deviation against the
    reference vectors (the class descriptions)."""

    mean: float
    deviation: float

    @classmethod
    def of(cls, cosines: npt.NDArray[np.floating[Any]]) -> Baseline:
        deviation = float(np.std(cosines))
        return cls(float(np.mean(cosines)), deviation if deviation > 0 else 1.0)

    def standardised(self, cosine: float) -> float:
        return (cosine - self.mean) / self.deviation


@dataclass(frozen=True)
class Calibration:
    """The fitted logistic curve (see the module docstring)."""

    slope: float
    intercept: float

    def score(self, cosine: float, baseline: Baseline) -> float:
        exponent = -(self.slope * baseline.standardised(cosine) + self.intercept)
        return 1.0 / (1.0 + math.exp(min(exponent, 700.0)))  # exp overflows past ~709


CONSE = Calibration(slope=1.44, intercept=-2.83)
DEFAULT_THRESHOLD = 0.5
