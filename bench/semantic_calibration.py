"""Semantic search calibration: from a query's cosine to a picture's `semantic` vector to a score
in [0, 1] that says how likely the picture is what was asked for, and the default threshold.

Sixteen real pictures (scikit-image's and scikit-learn's sample photos) go through the real
analyzers (`semantic` and what it depends on, with the models in the model folder), as an
upload would. Every query below is compared with every picture; a pair is relevant when the
picture is among the query's intended ones (queries that name no picture here, "dog",
"pizza", give only non-relevant pairs: what a search for something absent meets). A logistic
curve, score = 1 / (1 + exp(-(slope * z + intercept))), where z is the cosine on the query's
own scale (`sightline.search.relevance.Baseline`), is fitted to the relevance labels
(scikit-learn, class-balanced, so that the score does not depend on how many pictures a
collection holds that match nothing), and the report says for each candidate threshold:

- **kept**: the share of relevant pairs at or above it (recall),
- **precision**: the share of pairs at or above it that are relevant,
- **first kept**: of the queries whose intended picture ranks first, those where it stays in
  the answer (a threshold must not lose what the search already gets right),
- **misses dropped**: the share of pairs of a query that names a picture here with another
  picture that fall under it,
- **absent empty**: queries naming nothing here that come back empty.

Refit after any change to the `semantic` vectors (their classes, the words they mix in) or the
sentence model, and copy the printed parameters into `sightline.search.relevance`:

    .venv/bin/python bench/semantic_calibration.py
    .venv/bin/python bench/semantic_calibration.py --pairs   # each query's six best pictures
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image
from skimage import data
from sklearn.datasets import load_sample_images
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from sightline.images.pipeline import run_features
from sightline.models import Models
from sightline.search.relevance import CONSE, Baseline, Calibration
from sightline.settings import Settings
from sightline.vision import Picture, decode
from sightline.vision.concepts import class_table, embed_query
from sightline.vision.registry import build_analyzers

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        pixels = getattr(data, name)()
        return pixels[0] if isinstance(pixels, tuple) else pixels  # stereo pair: the left

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    return lambda: load_sample_images().images[index]


PICTURES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "cameraman": _skimage("camera"),
    "cat": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "coins": _skimage("coins"),
    "grass": _skimage("grass"),
    "gravel": _skimage("gravel"),
    "brick": _skimage("brick"),
    "moon": _skimage("moon"),
    "clock": _skimage("clock"),
    "motorcycle": _skimage("stereo_motorcycle"),
    "galaxies": _skimage("hubble_deep_field"),
    "page": _skimage("page"),
    "temple": _sklearn(0),  # china.jpg
    "flower": _sklearn(1),
}

# Query -> the pictures it is meant to find. Plain names, everyday words, categories, uses.
QUERIES: dict[str, set[str]] = {
    "cat": {"cat"},
    "kitten": {"cat"},
    "pet": {"cat"},
    "animal": {"cat"},
    "coffee": {"coffee"},
    "hot drink": {"coffee"},
    "cup": {"coffee"},
    "beverage": {"coffee"},
    "rocket": {"rocket"},
    "spaceship": {"rocket"},
    "space launch": {"rocket"},
    "astronaut": {"astronaut"},
    "space suit": {"astronaut"},
    "woman": {"astronaut"},
    "person": {"astronaut", "cameraman"},
    "photographer": {"cameraman"},
    "camera": {"cameraman"},
    "tripod": {"cameraman"},
    "coins": {"coins"},
    "money": {"coins"},
    "grass": {"grass"},
    "lawn": {"grass"},
    "gravel": {"gravel"},
    "pebbles": {"gravel"},
    "stones": {"gravel"},
    "brick wall": {"brick"},
    "wall": {"brick"},
    "moon": {"moon"},
    "crater": {"moon"},
    "clock": {"clock"},
    "time": {"clock"},
    "motorcycle": {"motorcycle"},
    "motorbike": {"motorcycle"},
    "vehicle": {"motorcycle"},
    "galaxy": {"galaxies"},
    "stars": {"galaxies"},
    "text": {"page"},
    "document": {"page"},
    "book": {"page"},
    "temple": {"temple"},
    "pagoda": {"temple"},
    "building": {"temple"},
    "flower": {"flower"},
    "blossom": {"flower"},
    # Nothing here is any of these.
    "dog": set(),
    "pizza": set(),
    "airplane": set(),
    "beach": set(),
    "bicycle": set(),
    "guitar": set(),
    "snow": set(),
    "computer": set(),
    "horse": set(),
    "car": set(),
    "baby": set(),
    "ocean": set(),
}


@dataclass
class Row:
    threshold: float
    kept: float
    precision: float
    first_kept: int
    first_ranked: int
    misses_dropped: float
    absent_empty: int


def picture(pixels: np.ndarray) -> Picture:
    """The photo as an upload would decode it (PNG, so nothing is lost)."""
    buffer = BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return decode(buffer.getvalue(), max_bytes=50 * 1024 * 1024, max_pixels=10**8)


def semantic_vectors(models: Models) -> dict[str, np.ndarray]:
    """Each picture's `semantic` vector, computed as the pipeline computes it."""
    analyzers = build_analyzers(models)
    features: list[str] = []

    def take(name: str) -> None:
        """The feature, what it depends on, and what any of those reuses: all of it, as an
        upload with the default features computes it."""
        if name in features:
            return
        analyzer = analyzers[name]
        for other in (*analyzer.depends_on, *analyzer.reuses):
            take(other)
        features.append(name)

    take("semantic")
    vectors = {}
    for name, load in PICTURES.items():
        runs = run_features(picture(load()), features, analyzers, lambda *_: None)
        result = next(run.state.result for run in runs if run.state.feature == "semantic")
        assert result is not None, f"semantic failed on {name}: {runs}"
        vectors[name] = np.asarray(result["vector"], dtype=np.float64)
    return vectors


@dataclass
class Pair:
    cosine: float
    standardised: float  # on the query's own scale (`Baseline`)
    baseline: Baseline


def pairs(models: Models, vectors: dict[str, np.ndarray]) -> dict[str, dict[str, Pair]]:
    """Every query against every picture."""
    with class_table(models).acquire() as table:
        found = {}
        for query in QUERIES:
            text = embed_query(models, query)
            baseline = Baseline.of(table @ text)
            found[query] = {
                name: Pair(c, baseline.standardised(c), baseline)
                for name, vector in vectors.items()
                for c in [float(text.astype(np.float64) @ vector)]
            }
    return found


def fit(found: dict[str, dict[str, Pair]]) -> tuple[Calibration, float, float]:
    """The class-balanced logistic fit on the standardised cosine, and the ROC AUC of the raw
    and of the standardised cosine."""
    labels = np.array([p in QUERIES[q] for q in QUERIES for p in PICTURES])
    raw = np.array([found[q][p].cosine for q in QUERIES for p in PICTURES])
    standardised = np.array([found[q][p].standardised for q in QUERIES for p in PICTURES])
    model = LogisticRegression(class_weight="balanced", C=100.0)
    model.fit(standardised[:, None], labels)
    calibration = Calibration(float(model.coef_[0][0]), float(model.intercept_[0]))
    return (
        calibration,
        float(roc_auc_score(labels, raw)),
        float(roc_auc_score(labels, standardised)),
    )


def rows(found: dict[str, dict[str, Pair]], calibration: Calibration) -> list[Row]:
    table = []
    for threshold in THRESHOLDS:
        relevant = kept = above = first = first_ranked = 0
        misses = dropped = absent = 0
        for query, intended in QUERIES.items():
            scores = {
                name: calibration.score(pair.cosine, pair.baseline)
                for name, pair in found[query].items()
            }
            if not intended:
                absent += all(value < threshold for value in scores.values())
                continue
            best = max(scores, key=scores.__getitem__)
            if best in intended:
                first_ranked += 1
                first += scores[best] >= threshold
            for name, value in scores.items():
                if name in intended:
                    relevant += 1
                    kept += value >= threshold
                else:
                    misses += 1
                    dropped += value < threshold
                above += value >= threshold
        table.append(
            Row(
                threshold,
                kept / relevant,
                kept / above if above else 1.0,
                first,
                first_ranked,
                dropped / misses,
                absent,
            )
        )
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pairs", action="store_true", help="print each query's best six")
    args = parser.parse_args(argv)
    models = Models.from_settings(Settings())
    try:
        found = pairs(models, semantic_vectors(models))
    finally:
        models.close()
    fitted, raw_auc, standardised_auc = fit(found)
    plain = [q for q in QUERIES if QUERIES[q]]
    absent = len(QUERIES) - len(plain)
    print(
        f"{len(PICTURES)} pictures, {len(QUERIES)} queries ({len(plain)} naming a picture, "
        f"{absent} naming none)"
    )
    print(f"ROC AUC: raw cosine {raw_auc:.3f}, standardised cosine {standardised_auc:.3f}")
    print(
        f"fitted: CONSE = Calibration(slope={fitted.slope:.2f}, intercept={fitted.intercept:.2f})"
    )
    print(f"in use: CONSE = Calibration(slope={CONSE.slope:.2f}, intercept={CONSE.intercept:.2f})")
    print()
    for label, calibration in (("fitted", fitted), ("in use", CONSE)):
        print(f"{label}: threshold  kept  precision  first kept  misses dropped  absent empty")
        for row in rows(found, calibration):
            print(
                f"{row.threshold:>17.2f}  {row.kept:.2f}  {row.precision:>9.2f}  "
                f"{row.first_kept:>6}/{row.first_ranked:<3}  {row.misses_dropped:>14.2f}  "
                f"{row.absent_empty:>8}/{absent}"
            )
        print()
    shown = QUERIES if args.pairs else ("hot drink", "coffee", "cat", "temple", "dog")
    print("query: best pictures (* intended), cosine/score in use")
    for query in shown:
        ordered = sorted(found[query].items(), key=lambda item: -item[1].cosine)[:6]
        print(
            f"{query:>14}: "
            + ", ".join(
                f"{name}{'*' if name in QUERIES[query] else ''} "
                f"{pair.cosine:.2f}/{CONSE.score(pair.cosine, pair.baseline):.2f}"
                for name, pair in ordered
            )
        )


if __name__ == "__main__":
    main()
