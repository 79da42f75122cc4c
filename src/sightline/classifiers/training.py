"""Training a custom classifier's head on image embeddings, and measuring it honestly.

A head is one linear layer on the L2-normalised embedding: a multinomial logistic regression
(softmax over the labels) for a multiclass classifier, one binary logistic regression per label
(sigmoids) for a multilabel one. Classes are weighted against imbalance.

Metrics come only from held-out data: stratified k-fold cross-validation, every example scored
by the fold model that never saw it; the head that is kept is then fit on every example. A
multilabel label is cross-validated on its own folds, stratified on that label's presence.

Pure computation: vectors and label sets in, a `Head` and JSON-ready metrics out. scikit-learn
is imported when training first runs: it takes seconds to import, and predicting (the
`custom:NAME` features, the API) needs only `Head`.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sightline.errors import InvalidParameter, NotEnoughExamples
from sightline.vision.vectors import softmax, unit_length

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

Floats = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]
JSON = dict[str, Any]

MIN_EXAMPLES_PER_LABEL = 5  # Custom Vision's rule; also what 5-fold cross-validation needs
MIN_MULTICLASS_LABELS = 2
# Inverse L2 strength for unit-length EfficientNet-Lite0 embeddings (cosine ~0.7 between any
# two images, so the directions that separate classes are short). Chosen on real embeddings of
# generated images: 100 gave the lowest held-out log-loss and probabilities whose mean top
# value matched the accuracy (10 was under-confident, 1000 over-confident); see bench/training.py.
REGULARIZATION = 100.0
MAX_ITERATIONS = 1000
METRIC_DECIMALS = 4
HEAD_FORMAT = 1


class ClassifierKind(StrEnum):
    MULTICLASS = "multiclass"  # exactly one label per image: softmax
    MULTILABEL = "multilabel"  # any number of labels per image: a sigmoid per label


@dataclass(frozen=True, eq=False)
class Head:
    """A trained linear head: `probabilities(X)` scores embeddings against `labels`."""

    kind: ClassifierKind
    labels: tuple[str, ...]
    weights: Floats  # (labels, dimensions)
    bias: Floats  # (labels,)

    def __post_init__(self) -> None:
        kind = ClassifierKind(self.kind)
        weights = np.array(self.weights, np.float32)
        bias = np.array(self.bias, np.float32)
        count = len(self.labels)
        if weights.ndim != 2 or weights.shape[0] != count or bias.shape != (count,):
            raise ValueError(
                f"A head for {count} labels needs weights ({count}, D) and bias ({count},), "
                f"not {weights.shape} and {bias.shape}."
            )
        if kind is ClassifierKind.MULTICLASS and count < MIN_MULTICLASS_LABELS:
            raise ValueError("A multiclass head needs at least two labels.")
        weights.setflags(write=False)
        bias.setflags(write=False)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "bias", bias)

    @property
    def dimensions(self) -> int:
        return int(self.weights.shape[1])

    def probabilities(self, embeddings: npt.ArrayLike) -> Floats:
        """(N, labels) probabilities for (N, dimensions) embeddings, normalised here first so
        raw and unit-length vectors score alike. Multiclass rows sum to 1."""
        rows = np.asarray(embeddings, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.dimensions:
            raise ValueError(f"Expected (N, {self.dimensions}) embeddings, got {rows.shape}.")
        logits = unit_length(rows) @ self.weights.T + self.bias
        if self.kind is ClassifierKind.MULTICLASS:
            return softmax(logits)
        # tanh form of the sigmoid: no overflow for large negative logits.
        result: Floats = (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)
        return result

    def to_bytes(self) -> bytes:
        """An .npz archive of plain arrays (no pickles), read back by `from_bytes`."""
        out = io.BytesIO()
        np.savez(
            out,
            format=np.array(HEAD_FORMAT),
            kind=np.array(self.kind.value),
            labels=np.array(self.labels, dtype=str),
            weights=self.weights,
            bias=self.bias,
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                if int(archive["format"]) != HEAD_FORMAT:
                    raise ValueError(f"Unknown head format {int(archive['format'])}.")
                return cls(
                    ClassifierKind(str(archive["kind"])),
                    tuple(str(label) for label in archive["labels"]),
                    archive["weights"],
                    archive["bias"],
                )
        except (OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:  # not a head's .npz
            raise ValueError(f"Not a stored classifier head: {exc}") from exc


@dataclass(frozen=True)
class TrainingResult:
    head: Head  # fit on every example
    metrics: JSON  # from held-out folds only
    seconds: float  # fitting and cross-validation


def check_examples(
    kind: ClassifierKind, labels: Sequence[str], examples: Sequence[frozenset[str]]
) -> None:
    """Refuse a training set that cannot be learned and cross-validated.

    Every label needs `MIN_EXAMPLES_PER_LABEL` examples; a multiclass classifier at least two
    labels, a multilabel label as many examples *without* it (its negatives). Raises
    `NotEnoughExamples` listing every short label, with the counts in `details`. Examples that
    are malformed rather than too few (a label outside `labels`, a multiclass example with no
    label or several) raise `InvalidParameter`.
    """
    kind = ClassifierKind(kind)
    names = list(labels)
    if len(set(names)) != len(names):
        raise InvalidParameter("Labels must be unique.", labels=names)
    unknown = sorted({label for example in examples for label in example} - set(names))
    if unknown:
        raise InvalidParameter(
            f"Examples carry labels the classifier does not have: {', '.join(unknown)}.",
            unknown=unknown,
        )
    if kind is ClassifierKind.MULTICLASS:
        malformed = sum(1 for example in examples if len(example) != 1)
        if malformed:
            raise InvalidParameter(
                f"A multiclass example has exactly one label; {malformed} have none or several.",
                examples=malformed,
            )
    counts = [sum(1 for example in examples if name in example) for name in names]
    without = [len(examples) - count for count in counts]
    rows: list[JSON] = [
        {"name": name, "examples": count}
        | ({"without": absent} if kind is ClassifierKind.MULTILABEL else {})
        for name, count, absent in zip(names, counts, without, strict=True)
    ]
    details: JSON = {"kind": kind.value, "minimum": MIN_EXAMPLES_PER_LABEL, "labels": rows}
    least = MIN_MULTICLASS_LABELS if kind is ClassifierKind.MULTICLASS else 1
    if len(names) < least:
        raise NotEnoughExamples(
            f"A {kind.value} classifier needs at least {least} label{'s' * (least > 1)}; "
            f"it has {len(names)}.",
            **details,
            minimum_labels=least,
        )
    short = [
        (name, count, absent)
        for name, count, absent in zip(names, counts, without, strict=True)
        if count < MIN_EXAMPLES_PER_LABEL
        or (kind is ClassifierKind.MULTILABEL and absent < MIN_EXAMPLES_PER_LABEL)
    ]
    if not short:
        return
    if kind is ClassifierKind.MULTICLASS:
        rule = f"Each label needs at least {MIN_EXAMPLES_PER_LABEL} examples"
        found = ", ".join(f"{name} has {count}" for name, count, _ in short)
    else:
        rule = (
            f"Each label needs at least {MIN_EXAMPLES_PER_LABEL} examples with it and "
            f"{MIN_EXAMPLES_PER_LABEL} without it"
        )
        found = ", ".join(
            f"{name} has {count} with and {absent} without" for name, count, absent in short
        )
    raise NotEnoughExamples(f"{rule}: {found}.", **details, short=[name for name, _, _ in short])


def train(
    kind: ClassifierKind,
    X: npt.ArrayLike,
    examples: Sequence[frozenset[str]],
    labels: Sequence[str],
    *,
    threshold: float = 0.5,
    folds: int = 5,
    seed: int = 0,
) -> TrainingResult:
    """Fit a head for `labels` on embeddings `X` (N, D) labelled by `examples` (one label set
    per row), with metrics from `folds`-fold cross-validation (fewer when a label has fewer
    examples) at `threshold`. The same inputs and seed give the same head and metrics."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    started = time.perf_counter()
    kind = ClassifierKind(kind)
    check_examples(kind, labels, examples)
    rows = np.asarray(X, np.float64)
    if rows.ndim != 2 or rows.shape[0] != len(examples):
        raise ValueError(f"Expected ({len(examples)}, D) embeddings, got {rows.shape}.")
    if not 0.0 < threshold < 1.0:
        raise ValueError("The threshold must be between 0 and 1 (exclusive).")
    if folds < 2:
        raise ValueError("Cross-validation needs at least two folds.")
    rows = unit_length(rows)
    names = tuple(labels)
    truth = np.array([[name in example for name in names] for example in examples], bool)
    # One BLAS thread: these matrices are small, and two threads made lbfgs 10-30 times slower
    # on the 2-core host (and their summation order made the iteration count vary).
    with threadpool_limits(limits=1, user_api="blas"):
        if kind is ClassifierKind.MULTICLASS:
            head, held_out, k = _multiclass(rows, truth, names, folds, seed)
        else:
            head, held_out, k = _multilabel(rows, truth, names, folds, seed)
    metrics = evaluate(kind, names, truth, held_out, threshold)
    metrics["cross_validation"] = {"folds": k, "seed": seed, "examples": len(examples)}
    metrics["model"] = {
        "type": "logistic_regression",
        "regularization": REGULARIZATION,
        "class_weight": "balanced",
    }
    return TrainingResult(head, metrics, time.perf_counter() - started)


def evaluate(
    kind: ClassifierKind,
    labels: Sequence[str],
    truth: npt.NDArray[np.bool_],
    probabilities: npt.NDArray[np.floating[Any]],
    threshold: float,
) -> JSON:
    """Metrics of `probabilities` (N, labels) against `truth` (N, labels). A label counts as
    predicted at or above `threshold`; multiclass predicts at most the top label, as
    predictions do."""
    from sklearn.metrics import average_precision_score

    count = len(labels)
    top = probabilities.argmax(axis=1)
    if kind is ClassifierKind.MULTICLASS:
        predicted = np.zeros_like(truth)
        rows = np.arange(len(truth))
        predicted[rows, top] = probabilities[rows, top] >= threshold
    else:
        predicted = probabilities >= threshold
    tp = (predicted & truth).sum(axis=0)
    fp = (predicted & ~truth).sum(axis=0)
    fn = (~predicted & truth).sum(axis=0)
    tn = (~predicted & ~truth).sum(axis=0)
    precision = _ratios(tp, tp + fp)
    recall = _ratios(tp, tp + fn)
    precisions = [
        float(average_precision_score(truth[:, i], probabilities[:, i])) for i in range(count)
    ]
    per_label = [
        {
            "name": labels[i],
            "examples": int(truth[:, i].sum()),
            "precision": _rounded(precision[i]),
            "recall": _rounded(recall[i]),
            "average_precision": _rounded(precisions[i]),
        }
        for i in range(count)
    ]
    overall: JSON = {
        "precision": _rounded(_ratio(int(tp.sum()), int((tp + fp).sum()))),
        "recall": _rounded(_ratio(int(tp.sum()), int((tp + fn).sum()))),
        "mean_average_precision": _rounded(float(np.mean(precisions))),
    }
    confusion: JSON = {"labels": list(labels)}
    if kind is ClassifierKind.MULTICLASS:
        actual = truth.argmax(axis=1)
        overall["accuracy"] = _rounded(float(np.mean(top == actual)))
        matrix = np.zeros((count, count), np.int64)
        np.add.at(matrix, (actual, top), 1)
        confusion["matrix"] = matrix.tolist()
    else:
        confusion["per_label"] = [
            {
                "name": labels[i],
                "tp": int(tp[i]),
                "fp": int(fp[i]),
                "fn": int(fn[i]),
                "tn": int(tn[i]),
            }
            for i in range(count)
        ]
    return {
        "kind": ClassifierKind(kind).value,
        "threshold": threshold,
        "labels": per_label,
        "overall": overall,
        "confusion_matrix": confusion,
    }


def _model() -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        C=REGULARIZATION, class_weight="balanced", max_iter=MAX_ITERATIONS, solver="lbfgs"
    )


def _multiclass(
    X: Matrix, truth: npt.NDArray[np.bool_], labels: tuple[str, ...], folds: int, seed: int
) -> tuple[Head, Matrix, int]:
    target = truth.argmax(axis=1)
    k = min(folds, int(truth.sum(axis=0).min()))
    held_out = np.zeros(truth.shape, np.float64)
    for fit, score in _splits(X, target, k, seed):
        held_out[score] = _softmax_head(X[fit], target[fit], labels).probabilities(X[score])
    return _softmax_head(X, target, labels), held_out, k


def _softmax_head(X: Matrix, target: npt.NDArray[np.int64], labels: tuple[str, ...]) -> Head:
    model = _model().fit(X, target)
    weights, bias = model.coef_, model.intercept_
    if len(labels) == 2:
        # sklearn fits one logit z for two classes, p(second) = sigmoid(z); the softmax of
        # (-z/2, z/2) is exactly that, so the head keeps one row per label.
        weights = np.vstack([-weights / 2, weights / 2])
        bias = np.concatenate([-bias / 2, bias / 2])
    return Head(
        ClassifierKind.MULTICLASS, labels, weights.astype(np.float32), bias.astype(np.float32)
    )


def _multilabel(
    X: Matrix, truth: npt.NDArray[np.bool_], labels: tuple[str, ...], folds: int, seed: int
) -> tuple[Head, Matrix, int]:
    positives = truth.sum(axis=0)
    k = min(folds, int(np.minimum(positives, len(truth) - positives).min()))
    held_out = np.zeros(truth.shape, np.float64)
    weights = np.zeros((len(labels), X.shape[1]), np.float64)
    bias = np.zeros(len(labels), np.float64)
    for i in range(len(labels)):
        target = truth[:, i].astype(np.int64)
        for fit, score in _splits(X, target, k, seed):
            held_out[score, i] = _model().fit(X[fit], target[fit]).predict_proba(X[score])[:, 1]
        model = _model().fit(X, target)
        weights[i], bias[i] = model.coef_[0], model.intercept_[0]
    head = Head(
        ClassifierKind.MULTILABEL, labels, weights.astype(np.float32), bias.astype(np.float32)
    )
    return head, held_out, k


def _splits(
    X: Matrix, target: npt.NDArray[np.int64], k: int, seed: int
) -> Iterator[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    yield from splitter.split(X, target)


def _ratios(part: npt.NDArray[np.int64], whole: npt.NDArray[np.int64]) -> list[float]:
    return [_ratio(int(a), int(b)) for a, b in zip(part, whole, strict=True)]


def _ratio(part: int, whole: int) -> float:
    """part / whole, 0 when nothing was predicted (sklearn's zero_division=0)."""
    return part / whole if whole else 0.0


def _rounded(value: float) -> float:
    return round(float(value), METRIC_DECIMALS)
