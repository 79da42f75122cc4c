"""Training a custom classifier's head, choosing it among candidates, and measuring it honestly.

A head is an input (`inputs.InputKind`: the L2-normalised embedding, or the picture's pixels or
HOG, or the embedding with HOG) and a model (`HeadModel`): a logistic regression on the input, a
logistic regression on RBF similarities to the training examples (kernel), or the nearest
training examples' votes. A candidate may also be fit on augmented copies of the examples'
glimpses (`inputs.Augmentation`: shifted and turned, or mirrored), added to the folds being fit
only, never to the fold being scored. Logistic regressions are multinomial (softmax over the
labels) for a multiclass classifier, one binary regression per label (sigmoids) for a multilabel
one, classes weighted against imbalance.

Metrics come only from held-out data: stratified k-fold cross-validation, every example scored
by the fold model that never saw it. Every candidate is cross-validated on the same folds; the
best is fit on every example and kept, and the metrics report each candidate's score. A
multilabel label is cross-validated on its own folds, stratified on that label's presence.

Measured (10 labels x 20 examples, 20 x 10 more held out; 5-fold CV accuracy / held-out):
sklearn digits upscaled to 64 px: embedding/linear (the only head before) 0.835 / 0.885,
embedding+hog/linear 0.955 / 0.975, hog/linear 0.96 / 0.96, pixels/kernel 0.915 / 0.95,
hog/linear+shift 0.975 / 0.975, hog/linear+flip 0.89 / 0.90, embedding+early/linear 0.87 / 0.92,
a tuned SVC on the raw 8x8 digits 0.925 / 0.94. On crops of six scikit-image photos every
embedding head is 1.0 and the pixel heads 0.60-0.93: the embedding head stays. On five kinds of
small marks on busy photo-like backgrounds embedding+early/linear is chosen, 0.70 / 0.78 (the
embedding alone 0.54 / 0.59).

Pure computation: vectors and label sets in, a `Head` and JSON-ready metrics out. scikit-learn
is imported when training first runs: it takes seconds to import, and predicting (the
`custom:NAME` features, the API) needs only `Head`.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sightline.classifiers.inputs import Augmentation, InputKind, augmented, head_input
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
NEIGHBOURS = 5  # k of the nearest-neighbours head
NEAR = 1e-3  # added to neighbours' distances: an identical picture outweighs, never divides by 0
MAX_SUPPORT = 1000  # reference rows of a kernel head: bounds its fitting time and size
# Augmented candidates are tried up to this many examples (multilabel: examples x labels, a
# binary fit per label): they fit on 7 (shift) or 2 (flip) times the rows, and where examples are
# few is where copies help. bench/training.py, all candidates, on a busy 2-core host: multiclass,
# 3 labels x 500 examples 0.8 -> 5-7 s; multilabel, 10 labels x 500 examples 7.6 -> 63 s.
MAX_AUGMENTED_EXAMPLES = 500
HEAD_FORMAT = 2
READABLE_HEAD_FORMATS = (1, 2)


class ClassifierKind(StrEnum):
    MULTICLASS = "multiclass"  # exactly one label per image: softmax
    MULTILABEL = "multilabel"  # any number of labels per image: a sigmoid per label


class HeadModel(StrEnum):
    LINEAR = "linear"  # a logistic regression on the input
    KERNEL = "kernel"  # a logistic regression on RBF similarities to training examples
    NEIGHBOURS = "neighbours"  # the distance-weighted labels of the nearest training examples


@dataclass(frozen=True, eq=False)
class Head:
    """A trained head: `probabilities(X)` scores rows of its `input` against `labels`.

    `linear`: logits = X @ weights.T + bias. `kernel`: the same on exp(-gamma * |x - s|^2) for
    each row s of `support` (training examples). `neighbours`: the `neighbours` nearest rows of
    `support`, each weighted by 1 / distance, vote for their labels (`weights`: (labels,
    support) 0/1); a label's probability is its share of the votes."""

    kind: ClassifierKind
    labels: tuple[str, ...]
    weights: Floats  # (labels, dimensions), or (labels, support) for kernel and neighbours
    bias: Floats  # (labels,)
    input: InputKind = InputKind.EMBEDDING
    model: HeadModel = HeadModel.LINEAR
    support: Floats | None = None  # (examples, dimensions): kernel and neighbours
    gamma: float = 0.0
    neighbours: int = 0

    def __post_init__(self) -> None:
        kind = ClassifierKind(self.kind)
        model = HeadModel(self.model)
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
        support = None
        if model is not HeadModel.LINEAR:
            support = np.array(self.support, np.float32)
            if support.ndim != 2 or support.shape[0] != weights.shape[1]:
                raise ValueError(
                    f"A {model.value} head needs support rows matching its weights' columns."
                )
            support.setflags(write=False)
        if model is HeadModel.NEIGHBOURS and self.neighbours < 1:
            raise ValueError("A neighbours head needs at least one neighbour.")
        weights.setflags(write=False)
        bias.setflags(write=False)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "input", InputKind(self.input))
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "support", support)

    @property
    def dimensions(self) -> int:
        return int((self.weights if self.support is None else self.support).shape[1])

    @property
    def name(self) -> str:
        """How candidates are named in the metrics, e.g. `hog/linear`."""
        return f"{self.input.value}/{self.model.value}"

    def probabilities(self, rows: npt.ArrayLike) -> Floats:
        """(N, labels) probabilities for (N, dimensions) rows of the head's input
        (`inputs.head_input`). Embeddings are normalised here first, so raw and unit-length
        vectors score alike. Multiclass rows sum to 1."""
        rows = np.asarray(rows, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.dimensions:
            raise ValueError(f"Expected (N, {self.dimensions}) rows, got {rows.shape}.")
        if self.input is InputKind.EMBEDDING:
            rows = unit_length(rows)
        if self.model is HeadModel.NEIGHBOURS:
            return self._votes(rows)
        features = rows if self.support is None else rbf(rows, self.support, self.gamma)
        logits = features @ self.weights.T + self.bias
        if self.kind is ClassifierKind.MULTICLASS:
            return softmax(logits)
        # tanh form of the sigmoid: no overflow for large negative logits.
        result: Floats = (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)
        return result

    def _votes(self, rows: Floats) -> Floats:
        assert self.support is not None
        distances = np.sqrt(squared_distances(rows, self.support))
        k = min(self.neighbours, len(self.support))
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
        closeness = 1.0 / (np.take_along_axis(distances, nearest, axis=1) + NEAR)
        votes = np.einsum("nk,lnk->nl", closeness, self.weights[:, nearest])
        result: Floats = (votes / closeness.sum(axis=1, keepdims=True)).astype(np.float32)
        return result

    def to_bytes(self) -> bytes:
        """An .npz archive of plain arrays (no pickles), read back by `from_bytes`."""
        out = io.BytesIO()
        support = np.zeros((0, 0), np.float32) if self.support is None else self.support
        np.savez(
            out,
            format=np.array(HEAD_FORMAT),
            kind=np.array(self.kind.value),
            labels=np.array(self.labels, dtype=str),
            weights=self.weights,
            bias=self.bias,
            input=np.array(self.input.value),
            model=np.array(self.model.value),
            support=support,
            gamma=np.array(self.gamma),
            neighbours=np.array(self.neighbours),
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        """A head stored by `to_bytes`, this format or the first (a linear head on the
        embedding, with no input or model named)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                found = int(archive["format"])
                if found not in READABLE_HEAD_FORMATS:
                    raise ValueError(f"Unknown head format {found}.")
                common = (
                    ClassifierKind(str(archive["kind"])),
                    tuple(str(label) for label in archive["labels"]),
                    archive["weights"],
                    archive["bias"],
                )
                if found == 1:
                    return cls(*common)
                model = HeadModel(str(archive["model"]))
                return cls(
                    *common,
                    input=InputKind(str(archive["input"])),
                    model=model,
                    support=None if model is HeadModel.LINEAR else archive["support"],
                    gamma=float(archive["gamma"]),
                    neighbours=int(archive["neighbours"]),
                )
        except (OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:  # not a head's .npz
            raise ValueError(f"Not a stored classifier head: {exc}") from exc


def squared_distances(rows: Floats, support: Floats) -> Floats:
    """(N, M) squared Euclidean distances, never negative from rounding."""
    products = rows @ support.T
    result: Floats = np.maximum(
        (rows * rows).sum(axis=1)[:, None]
        + (support * support).sum(axis=1)[None, :]
        - 2 * products,
        0.0,
    )
    return result


def rbf(rows: Floats, support: Floats, gamma: float) -> Floats:
    result: Floats = np.exp(-gamma * squared_distances(rows, support)).astype(np.float32)
    return result


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


@dataclass(frozen=True)
class Candidate:
    """A head training may pick: an input and a model, fit on the examples alone or also on
    augmented copies of them (`inputs.Augmentation`; inputs read from the glimpse only, since
    a copy has no embedding)."""

    input: InputKind
    model: HeadModel
    augmentation: Augmentation | None = None

    def __post_init__(self) -> None:
        if self.augmentation is not None and self.input.reads_embedding:
            raise ValueError(f"The {self.input.value} input cannot be augmented.")

    @property
    def name(self) -> str:
        """e.g. `hog/linear`, or `hog/linear+shift` when fit on shifted copies too."""
        augmented = "" if self.augmentation is None else f"+{self.augmentation.value}"
        return f"{self.input.value}/{self.model.value}{augmented}"


# Tried in this order; a later candidate is kept only when it cross-validates strictly better,
# so photos keep today's head unless another one is better on held-out folds.
EMBEDDING_LINEAR = Candidate(InputKind.EMBEDDING, HeadModel.LINEAR)  # the only head before
EMBEDDING_CANDIDATES = (EMBEDDING_LINEAR, Candidate(InputKind.EMBEDDING, HeadModel.NEIGHBOURS))
# Needs the examples' early features (a model run on each decoded picture).
EARLY_CANDIDATES = (Candidate(InputKind.EMBEDDING_EARLY, HeadModel.LINEAR),)
# Need the examples' glimpses (the decoded pictures), not only their stored embeddings.
PIXEL_CANDIDATES = (
    Candidate(InputKind.EMBEDDING_HOG, HeadModel.LINEAR),
    Candidate(InputKind.HOG, HeadModel.LINEAR),
    Candidate(InputKind.PIXELS, HeadModel.KERNEL),
)
# Need the glimpses too, and are tried up to `MAX_AUGMENTED_EXAMPLES` examples.
AUGMENTED_CANDIDATES = (
    Candidate(InputKind.HOG, HeadModel.LINEAR, Augmentation.SHIFT),
    Candidate(InputKind.HOG, HeadModel.LINEAR, Augmentation.FLIP),
)
# Rows and labels to fit on, for the examples at these indices.
FitRows = Callable[[npt.NDArray[np.intp]], tuple[Floats, npt.NDArray[np.bool_]]]


def train(
    kind: ClassifierKind,
    X: npt.ArrayLike,
    examples: Sequence[frozenset[str]],
    labels: Sequence[str],
    *,
    glimpses: npt.ArrayLike | None = None,
    early: npt.ArrayLike | None = None,
    candidates: Sequence[Candidate] | None = None,
    threshold: float = 0.5,
    folds: int = 5,
    seed: int = 0,
    example_ids: Sequence[str] | None = None,
) -> TrainingResult:
    """Fit a head for `labels` on embeddings `X` (N, D) labelled by `examples` (one label set
    per row), with metrics from `folds`-fold cross-validation (fewer when a label has fewer
    examples) at `threshold` (0: a multiclass head predicts its top label whatever its
    probability).

    Each candidate head (`EMBEDDING_CANDIDATES`, `EARLY_CANDIDATES` when the examples' `early`
    features (N, C) are given, `PIXEL_CANDIDATES` when their `glimpses` (N, 32, 32) are, and
    `AUGMENTED_CANDIDATES` when they are and the examples (multilabel: times the labels) are at
    most `MAX_AUGMENTED_EXAMPLES`;
    or the `candidates` named) is cross-validated on the same folds (augmented copies of the
    examples being fit on only); the best by accuracy (multiclass, then mean average precision)
    or mean average precision (multilabel) is fit on every example and its held-out metrics are
    the version's. With `example_ids` (one per example), a multiclass confusion matrix also
    names its `misclassified` examples: which ones make up each cell off the diagonal. The same
    inputs and seed give the same head and metrics."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    started = time.perf_counter()
    kind = ClassifierKind(kind)
    check_examples(kind, labels, examples)
    embeddings = np.asarray(X, np.float32)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(examples):
        raise ValueError(f"Expected ({len(examples)}, D) embeddings, got {embeddings.shape}.")
    pictures = None if glimpses is None else np.asarray(glimpses, np.float32)
    if pictures is not None and len(pictures) != len(examples):
        raise ValueError(f"Expected {len(examples)} glimpses, got {len(pictures)}.")
    earlier = None if early is None else np.asarray(early, np.float32)
    if earlier is not None and len(earlier) != len(examples):
        raise ValueError(f"Expected {len(examples)} early feature rows, got {len(earlier)}.")
    if not 0.0 <= threshold < 1.0 or (threshold == 0.0 and kind is ClassifierKind.MULTILABEL):
        raise ValueError("The threshold must be under 1 (and over 0 for multilabel).")
    if folds < 2:
        raise ValueError("Cross-validation needs at least two folds.")
    names = tuple(labels)
    truth = np.array([[name in example for name in names] for example in examples], bool)
    if candidates is None:
        candidates = EMBEDDING_CANDIDATES + (EARLY_CANDIDATES if earlier is not None else ())
        if pictures is not None:
            candidates += PIXEL_CANDIDATES
            fits = 1 if kind is ClassifierKind.MULTICLASS else len(names)
            if len(examples) * fits <= MAX_AUGMENTED_EXAMPLES:
                candidates += AUGMENTED_CANDIDATES
    if not candidates:
        raise ValueError("Name at least one candidate head.")
    if kind is ClassifierKind.MULTICLASS:
        k = min(folds, int(truth.sum(axis=0).min()))
    else:
        positives = truth.sum(axis=0)
        k = min(folds, int(np.minimum(positives, len(truth) - positives).min()))
    if example_ids is not None and len(example_ids) != len(examples):
        raise ValueError(f"Expected {len(examples)} example ids, got {len(example_ids)}.")
    tried: list[tuple[Candidate, JSON, JSON, Matrix]] = []
    # One BLAS thread: these matrices are small, and two threads made lbfgs 10-30 times slower
    # on the 2-core host (and their summation order made the iteration count vary).
    with threadpool_limits(limits=1, user_api="blas"):
        for candidate in candidates:
            rows = head_input(candidate.input, embeddings, pictures, earlier)
            fit_rows = _fit_rows(candidate, rows, truth, pictures)
            held_out = _cross_validate(candidate, kind, rows, fit_rows, truth, names, k, seed)
            metrics = evaluate(kind, names, truth, held_out, threshold)
            row: JSON = {"name": candidate.name, "input": candidate.input.value}
            row["model"] = candidate.model.value
            if candidate.augmentation is not None:
                row["augmentation"] = candidate.augmentation.value
            if kind is ClassifierKind.MULTICLASS:
                row["cv_accuracy"] = metrics["overall"]["accuracy"]
            row["cv_mean_average_precision"] = metrics["overall"]["mean_average_precision"]
            tried.append((candidate, metrics, row, held_out))
        chosen, metrics, _, held_out = max(
            tried, key=lambda entry: _selection_score(kind, entry[2])
        )
        rows = head_input(chosen.input, embeddings, pictures, earlier)
        head = _fit(
            chosen,
            kind,
            *_fit_rows(chosen, rows, truth, pictures)(np.arange(len(rows))),
            names,
            seed,
        )
    if example_ids is not None and kind is ClassifierKind.MULTICLASS:
        metrics["confusion_matrix"]["misclassified"] = misclassified(
            names, truth, held_out, example_ids
        )
    metrics["cross_validation"] = {"folds": k, "seed": seed, "examples": len(examples)}
    metrics["model"] = _description(head)
    if chosen.augmentation is not None:
        metrics["model"]["augmentation"] = chosen.augmentation.value
    metrics["head"] = {
        "chosen": chosen.name,
        "selected_by": "accuracy"
        if kind is ClassifierKind.MULTICLASS
        else "mean_average_precision",
        "candidates": [row for _, _, row, _ in tried],
    }
    return TrainingResult(head, metrics, time.perf_counter() - started)


def _selection_score(kind: ClassifierKind, row: JSON) -> tuple[float, ...]:
    """Higher is better; `max` keeps the first of equals, the earlier candidate."""
    if kind is ClassifierKind.MULTICLASS:
        return (row["cv_accuracy"], row["cv_mean_average_precision"])
    return (row["cv_mean_average_precision"],)


def _description(head: Head) -> JSON:
    """The chosen head's model, for the version's metrics."""
    described: JSON = {"input": head.input.value}
    if head.model is HeadModel.NEIGHBOURS:
        return described | {
            "type": "k_nearest_neighbours",
            "neighbours": head.neighbours,
            "weights": "distance",
        }
    described["type"] = "logistic_regression"
    if head.model is HeadModel.KERNEL:
        assert head.support is not None
        described |= {"kernel": "rbf", "gamma": _rounded(head.gamma), "support": len(head.support)}
    return described | {"regularization": REGULARIZATION, "class_weight": "balanced"}


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


def misclassified(
    labels: Sequence[str],
    truth: npt.NDArray[np.bool_],
    probabilities: npt.NDArray[np.floating[Any]],
    example_ids: Sequence[str],
) -> list[JSON]:
    """The multiclass examples whose held-out top label is not theirs, as the confusion
    matrix counts them (its top label, whatever the threshold), most confidently wrong first:
    `{image_id, actual, predicted, confidence}` (the predicted label's probability)."""
    top = probabilities.argmax(axis=1)
    actual = truth.argmax(axis=1)
    rows = [
        {
            "image_id": example_ids[i],
            "actual": labels[int(actual[i])],
            "predicted": labels[int(top[i])],
            "confidence": _rounded(probabilities[i, top[i]]),
        }
        for i in map(int, np.flatnonzero(top != actual))
    ]
    return sorted(rows, key=lambda row: -row["confidence"])


def _model() -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        C=REGULARIZATION, class_weight="balanced", max_iter=MAX_ITERATIONS, solver="lbfgs"
    )


def _fit_rows(
    candidate: Candidate,
    X: Floats,
    truth: npt.NDArray[np.bool_],
    glimpses: Floats | None,
) -> FitRows:
    """What the candidate is fit on for some examples: their rows of `X`, or with an
    augmentation also their glimpses' augmented copies' rows, labelled as the originals."""
    if candidate.augmentation is None:
        return lambda indices: (X[indices], truth[indices])
    if glimpses is None:
        raise ValueError(f"The {candidate.name} candidate augments the examples' glimpses.")
    augmentation = candidate.augmentation

    def rows(indices: npt.NDArray[np.intp]) -> tuple[Floats, npt.NDArray[np.bool_]]:
        copies = augmented(glimpses[indices], augmentation)
        labels = np.tile(truth[indices], (len(copies) // len(indices), 1))
        return head_input(candidate.input, None, copies), labels

    return rows


def _cross_validate(
    candidate: Candidate,
    kind: ClassifierKind,
    X: Floats,
    fit_rows: FitRows,
    truth: npt.NDArray[np.bool_],
    labels: tuple[str, ...],
    k: int,
    seed: int,
) -> Matrix:
    """Every example's probabilities (its row of `X`) from the candidate fit (on `fit_rows`)
    on the folds that left it out. A multilabel label is cross-validated on its own folds,
    stratified on its presence."""
    held_out = np.zeros(truth.shape, np.float64)
    if kind is ClassifierKind.MULTICLASS:
        for fit, score in _splits(X, truth.argmax(axis=1), k, seed):
            head = _fit(candidate, kind, *fit_rows(fit), labels, seed)
            held_out[score] = head.probabilities(X[score])
        return held_out
    for i, label in enumerate(labels):
        for fit, score in _splits(X, truth[:, i].astype(np.int64), k, seed):
            rows, fit_truth = fit_rows(fit)
            head = _fit(candidate, kind, rows, fit_truth[:, [i]], (label,), seed)
            held_out[score, i] = head.probabilities(X[score])[:, 0]
    return held_out


def _fit(
    candidate: Candidate,
    kind: ClassifierKind,
    X: Floats,
    truth: npt.NDArray[np.bool_],
    labels: tuple[str, ...],
    seed: int,
) -> Head:
    shape: JSON = {"input": candidate.input, "model": candidate.model}
    if candidate.model is HeadModel.NEIGHBOURS:
        votes, none = truth.T.astype(np.float32), np.zeros(len(labels), np.float32)
        return Head(kind, labels, votes, none, **shape, support=X, neighbours=NEIGHBOURS)
    features = X
    if candidate.model is HeadModel.KERNEL:
        support = _support(X, seed)
        gamma = _gamma(support)
        features = rbf(X, support, gamma)
        shape |= {"support": support, "gamma": gamma}
    weights, bias = _logistic(kind, features.astype(np.float64), truth)
    return Head(kind, labels, weights.astype(np.float32), bias.astype(np.float32), **shape)


def _logistic(
    kind: ClassifierKind, X: Matrix, truth: npt.NDArray[np.bool_]
) -> tuple[Matrix, Matrix]:
    """Weights (labels, D) and bias (labels,): a softmax regression (multiclass) or a binary
    logistic regression per label."""
    if kind is ClassifierKind.MULTILABEL:
        weights = np.zeros((truth.shape[1], X.shape[1]), np.float64)
        bias = np.zeros(truth.shape[1], np.float64)
        for i in range(truth.shape[1]):
            model = _model().fit(X, truth[:, i].astype(np.int64))
            weights[i], bias[i] = model.coef_[0], model.intercept_[0]
        return weights, bias
    model = _model().fit(X, truth.argmax(axis=1))
    weights, bias = model.coef_, model.intercept_
    if truth.shape[1] == 2:
        # sklearn fits one logit z for two classes, p(second) = sigmoid(z); the softmax of
        # (-z/2, z/2) is exactly that, so the head keeps one row per label.
        weights = np.vstack([-weights / 2, weights / 2])
        bias = np.concatenate([-bias / 2, bias / 2])
    return weights, bias


def _support(X: Floats, seed: int) -> Floats:
    """The kernel's reference rows: every example, or `MAX_SUPPORT` of them drawn at random
    (the cost of fitting grows with their number)."""
    if len(X) <= MAX_SUPPORT:
        return X
    chosen = np.sort(np.random.default_rng(seed).choice(len(X), MAX_SUPPORT, replace=False))
    return X[chosen]


def _gamma(support: Floats) -> float:
    """The RBF width by the median heuristic: 1 / the median squared distance between
    reference rows, so similarities spread over (0, 1) whatever the input's scale."""
    distances = squared_distances(support, support)
    positive = distances[distances > 0]
    return 1.0 / float(np.median(positive)) if positive.size else 1.0


def _splits(
    X: npt.NDArray[np.floating[Any]], target: npt.NDArray[np.int64], k: int, seed: int
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
