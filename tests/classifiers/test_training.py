"""Training classifier heads: accuracy on separable classes, the minimum-examples rule, metrics
from held-out folds only, multilabel heads and stored heads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw
from sklearn.linear_model import LogisticRegression

from sightline.classifiers import training
from sightline.classifiers.inputs import Augmentation, InputKind, glimpse, head_input
from sightline.classifiers.training import (
    AUGMENTED_CANDIDATES,
    EARLY_CANDIDATES,
    EMBEDDING_CANDIDATES,
    EMBEDDING_LINEAR,
    PIXEL_CANDIDATES,
    REGULARIZATION,
    Candidate,
    ClassifierKind,
    Head,
    HeadModel,
    check_examples,
    train,
)
from sightline.errors import InvalidParameter, NotEnoughExamples
from sightline.models import Models
from sightline.vision.tags import classifier, classify_batch
from support.digits import digits

DIMENSIONS = 1280
MULTICLASS, MULTILABEL = ClassifierKind.MULTICLASS, ClassifierKind.MULTILABEL
Vectors = npt.NDArray[np.float32]


def clustered(
    counts: Sequence[int], *, spread: float = 1.0, seed: int = 0, draw: int = 0
) -> tuple[Vectors, list[frozenset[str]], list[str]]:
    """Unit vectors around one centre per label (named l0, l1, ...), all sharing a common
    non-negative part as real embeddings do; `spread` scales the centres' distinct parts. The
    centres depend on `seed` only, the points around them on `draw` too."""
    rng = np.random.default_rng(seed)
    common = np.abs(rng.normal(size=DIMENSIONS))
    centres = common + spread * rng.normal(size=(len(counts), DIMENSIONS))
    noise = np.random.default_rng([seed, draw])
    labels = [f"l{i}" for i in range(len(counts))]
    rows, examples = [], []
    for label, centre, count in zip(labels, centres, counts, strict=True):
        rows.append(centre + noise.normal(size=(count, DIMENSIONS)))
        examples += [frozenset([label])] * count
    vectors = np.concatenate(rows)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), examples, labels


def attributes(
    count: int, labels: int, *, seed: int = 0
) -> tuple[Vectors, list[frozenset[str]], list[str]]:
    """Multilabel data: each label present at random in about a third of the vectors, adding its
    own direction to a shared noisy base."""
    rng = np.random.default_rng(seed)
    names = [f"a{i}" for i in range(labels)]
    present = rng.random((count, labels)) < 0.35
    directions = rng.normal(size=(labels, DIMENSIONS))
    vectors = np.abs(rng.normal(size=DIMENSIONS)) + rng.normal(size=(count, DIMENSIONS))
    vectors += 0.8 * present @ directions
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    examples = [frozenset(n for n, p in zip(names, row, strict=True) if p) for row in present]
    return vectors.astype(np.float32), examples, names


def accuracy(head: Head, vectors: Vectors, examples: Sequence[frozenset[str]]) -> float:
    best = head.probabilities(vectors).argmax(axis=1)
    return float(np.mean([head.labels[i] in e for i, e in zip(best, examples, strict=True)]))


def test_separable_classes_are_learned_and_measured_as_such() -> None:
    vectors, examples, labels = clustered([12, 9, 15, 10])
    result = train(MULTICLASS, vectors, examples, labels, candidates=[EMBEDDING_LINEAR])
    metrics = result.metrics
    assert metrics["overall"]["accuracy"] == 1.0
    assert metrics["overall"]["mean_average_precision"] == 1.0
    assert [entry["name"] for entry in metrics["labels"]] == labels
    assert [entry["examples"] for entry in metrics["labels"]] == [12, 9, 15, 10]
    assert metrics["confusion_matrix"] == {
        "labels": labels,
        "matrix": [[12, 0, 0, 0], [0, 9, 0, 0], [0, 0, 15, 0], [0, 0, 0, 10]],
    }
    assert metrics["cross_validation"] == {"folds": 5, "seed": 0, "examples": 46}
    assert result.head.labels == tuple(labels) and result.head.weights.shape == (4, DIMENSIONS)
    unseen, truth, _ = clustered([3, 3, 3, 3], draw=1)  # the same centres, new points
    assert accuracy(result.head, unseen, truth) == 1.0
    probabilities = result.head.probabilities(unseen)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert probabilities.max(axis=1).min() >= 0.5  # confident enough for the 0.5 threshold


def shape(kind: str, seed: int) -> Image.Image:
    """A 224-px picture: a red square, a blue disc or green stripes at a random place and size,
    on a random light background with pixel noise."""
    rng = np.random.default_rng([seed, len(kind)])
    side = 224
    image = Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(190, 250, 3)))
    draw = ImageDraw.Draw(image)
    r = int(rng.integers(30, 70))
    x, y = (int(v) for v in rng.integers(r, side - r, 2))
    if kind == "square":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=(int(rng.integers(180, 240)), 30, 30))
    elif kind == "disc":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(30, 30, int(rng.integers(180, 240))))
    else:
        for top in range(y - r, y + r, 12):
            draw.rectangle([x - r, top, x + r, top + 5], fill=(30, int(rng.integers(140, 220)), 30))
    noisy = np.asarray(image, np.float32) + rng.normal(0, 8, (side, side, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def test_generated_pictures_of_different_shapes_are_told_apart(models: Models) -> None:
    kinds = ["disc", "square", "stripes"]
    pictures = [(kind, shape(kind, seed)) for kind in kinds for seed in range(8)]
    with classifier(models).acquire() as model:
        features = classify_batch(model, [picture for _, picture in pictures])[1]
        unseen = classify_batch(model, [shape(kind, 100) for kind in kinds])[1]
    examples = [frozenset([kind]) for kind, _ in pictures]
    glimpses = np.stack([glimpse(picture) for _, picture in pictures])
    result = train(MULTICLASS, features, examples, kinds, glimpses=glimpses)
    assert result.metrics["overall"]["accuracy"] >= 0.9
    rows = head_input(result.head.input, unseen, [glimpse(shape(kind, 100)) for kind in kinds])
    best = result.head.probabilities(rows).argmax(axis=1)
    assert [kinds[i] for i in best] == kinds


def embeddings(models: Models, pictures: Sequence[Image.Image], output: int = 1) -> Vectors:
    """The pictures' embeddings (`classify_batch`'s output 1), or early features (output 2)."""
    with classifier(models).acquire() as model:
        batches = [
            classify_batch(model, pictures[i : i + 50])[output] for i in range(0, len(pictures), 50)
        ]
    return np.concatenate(batches)


def held_out_accuracy(
    head: Head, vectors: Vectors, pictures: Sequence[Image.Image], labels: Sequence[str]
) -> float:
    rows = head_input(head.input, vectors, [glimpse(picture) for picture in pictures])
    best = head.probabilities(rows).argmax(axis=1)
    return float(np.mean([head.labels[i] == label for i, label in zip(best, labels, strict=True)]))


def test_on_small_greyscale_digits_training_picks_a_pixel_head_as_good_as_an_svc(
    models: Models,
) -> None:
    """The issue's case: 10 digits x 20 examples, 20 x 10 held out. The embedding-only head
    reaches 0.835 (CV) and 0.885 (held out) here, a tuned SVC on the raw 8x8 pixels 0.94."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    known, unseen = digits(20)
    vectors, unseen_vectors = (
        embeddings(models, known.pictures),
        embeddings(models, unseen.pictures),
    )
    examples = [frozenset([label]) for label in known.labels]
    names = sorted(set(known.labels))
    glimpses = np.stack([glimpse(picture) for picture in known.pictures])
    early = embeddings(models, known.pictures, output=2)
    result = train(
        MULTICLASS, vectors, examples, names, glimpses=glimpses, early=early, threshold=0.0
    )

    head = result.metrics["head"]
    scores = {entry["name"]: entry["cv_accuracy"] for entry in head["candidates"]}
    tried = EMBEDDING_CANDIDATES + EARLY_CANDIDATES + PIXEL_CANDIDATES + AUGMENTED_CANDIDATES
    assert list(scores) == [c.name for c in tried]
    assert scores["embedding+early/linear"] > scores["embedding/linear"]
    assert head["chosen"].startswith(result.head.name) and result.head.input.reads_pixels
    assert head["selected_by"] == "accuracy"
    assert scores[head["chosen"]] == max(scores.values()) >= scores["embedding/linear"] + 0.05
    assert result.metrics["overall"]["accuracy"] == scores[head["chosen"]]

    chosen = held_out_accuracy(result.head, unseen_vectors, unseen.pictures, unseen.labels)
    embedding_only = train(MULTICLASS, vectors, examples, names, candidates=[EMBEDDING_LINEAR])
    before = held_out_accuracy(embedding_only.head, unseen_vectors, unseen.pictures, unseen.labels)
    grid = {"C": [1, 10, 100], "gamma": ["scale", 1e-3, 5e-4]}
    svc = GridSearchCV(SVC(), grid, cv=5).fit(known.pixels, known.labels)
    baseline = float(svc.score(unseen.pixels, unseen.labels))
    assert chosen >= baseline - 0.02 and chosen > before


def test_on_photos_training_keeps_a_head_on_the_embedding(models: Models) -> None:
    """Crops of six scikit-image photos: the pixel heads are far behind (0.6-0.8) and must not
    be chosen; the result is as good as the embedding-only head."""
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.coins()]
    rng = np.random.default_rng(3)

    def crop(photo: npt.NDArray[np.uint8]) -> Image.Image:
        image = Image.fromarray(photo).convert("RGB")
        width, height = image.size
        scale = rng.uniform(0.4, 0.8)
        w, h = int(width * scale), int(height * scale)
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        return image.crop((x, y, x + w, y + h)).rotate(float(rng.uniform(-15, 15)))

    names = [str(i) for i in range(len(photos))]
    known = [
        (crop(photo), name) for photo, name in zip(photos, names, strict=True) for _ in range(8)
    ]
    unseen = [
        (crop(photo), name) for photo, name in zip(photos, names, strict=True) for _ in range(8)
    ]
    vectors = embeddings(models, [picture for picture, _ in known])
    unseen_vectors = embeddings(models, [picture for picture, _ in unseen])
    examples = [frozenset([name]) for _, name in known]
    glimpses = np.stack([glimpse(picture) for picture, _ in known])
    result = train(MULTICLASS, vectors, examples, names, glimpses=glimpses)
    assert result.head.input.value.startswith("embedding")
    pictures, labels = [p for p, _ in unseen], [n for _, n in unseen]
    assert held_out_accuracy(result.head, unseen_vectors, pictures, labels) == 1.0


@pytest.mark.parametrize("kind", [MULTICLASS, MULTILABEL])
def test_every_candidate_head_stores_and_scores_alike(kind: ClassifierKind) -> None:
    vectors, examples, labels = clustered([6, 7, 5], spread=0.2, seed=8)
    if kind is MULTILABEL:
        examples = [e | {"any"} if i % 2 else e for i, e in enumerate(examples)]
        labels = [*labels, "any"]
    rng = np.random.default_rng(0)
    glimpses = rng.random((len(examples), 32, 32)).astype(np.float32)
    early = rng.random((len(examples), 152)).astype(np.float32)
    every = EMBEDDING_CANDIDATES + EARLY_CANDIDATES + PIXEL_CANDIDATES + AUGMENTED_CANDIDATES
    for candidate in every:
        result = train(
            kind, vectors, examples, labels, glimpses=glimpses, early=early, candidates=[candidate]
        )
        head = result.head
        assert (head.input, head.model) == (candidate.input, candidate.model)
        assert result.metrics["head"]["chosen"] == candidate.name
        restored = Head.from_bytes(head.to_bytes())
        assert restored.to_bytes() == head.to_bytes() and restored.name == head.name
        rows = head_input(head.input, vectors, glimpses, early)
        np.testing.assert_array_equal(restored.probabilities(rows), head.probabilities(rows))
        if kind is MULTICLASS:
            np.testing.assert_allclose(head.probabilities(rows).sum(axis=1), 1, atol=1e-5)
        if head.model is HeadModel.NEIGHBOURS:  # a training example is its own nearest
            assert accuracy(head, vectors, examples) == 1.0 or kind is MULTILABEL


def smooth_noise(count: int, seed: int) -> Vectors:
    """(count, 32, 32) random grey pictures without fine detail: a copy moved by a pixel or two
    stays close to its original."""
    coarse = np.random.default_rng(seed).random((count, 4, 4)).astype(np.float32)
    return np.stack(
        [
            np.asarray(Image.fromarray(grid, "F").resize((32, 32), Image.Resampling.BILINEAR))
            for grid in coarse
        ]
    )


@pytest.mark.parametrize(
    "candidate",
    [
        Candidate(InputKind.PIXELS, HeadModel.NEIGHBOURS, Augmentation.SHIFT),
        Candidate(InputKind.HOG, HeadModel.LINEAR, Augmentation.SHIFT),
        Candidate(InputKind.HOG, HeadModel.LINEAR, Augmentation.FLIP),
    ],
    ids=lambda candidate: candidate.name,
)
def test_augmented_copies_are_fit_on_but_never_scored(candidate: Candidate) -> None:
    """Random labels on random pictures: nothing to learn, so cross-validated accuracy stays
    near chance. Had a scored example's own copies been among the rows fit on, they would
    give its label away (1.0 when measured so)."""
    glimpses = smooth_noise(60, seed=4)
    rng = np.random.default_rng(4)
    examples = [frozenset([name]) for name in rng.permutation(["a", "b"] * 30)]
    vectors = np.ones((len(examples), 4), np.float32)
    result = train(
        MULTICLASS, vectors, examples, ["a", "b"], glimpses=glimpses, candidates=[candidate]
    )
    assert result.metrics["overall"]["accuracy"] <= 0.65
    assert result.metrics["head"]["candidates"][0]["augmentation"] == candidate.augmentation
    assert result.metrics["model"]["augmentation"] == candidate.augmentation
    if result.head.support is not None:  # the final head is fit on every example's copies
        copies = 7 if candidate.augmentation is Augmentation.SHIFT else 2
        assert len(result.head.support) == copies * len(examples)


def test_augmented_candidates_are_tried_only_for_few_examples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors, examples, labels = clustered([6, 6], seed=2)
    glimpses = smooth_noise(len(examples), seed=2)
    tried = train(MULTICLASS, vectors, examples, labels, glimpses=glimpses).metrics["head"]
    assert {c.name for c in AUGMENTED_CANDIDATES} <= {c["name"] for c in tried["candidates"]}
    monkeypatch.setattr(training, "MAX_AUGMENTED_EXAMPLES", len(examples) - 1)
    tried = train(MULTICLASS, vectors, examples, labels, glimpses=glimpses).metrics["head"]
    assert [c["name"] for c in tried["candidates"]] == [
        c.name for c in EMBEDDING_CANDIDATES + PIXEL_CANDIDATES
    ]


def test_only_inputs_read_from_the_glimpse_alone_are_augmented() -> None:
    with pytest.raises(ValueError, match="cannot be augmented"):
        Candidate(InputKind.EMBEDDING_HOG, HeadModel.LINEAR, Augmentation.SHIFT)


def test_a_first_format_head_still_loads_and_predicts() -> None:
    """Heads stored before heads had inputs: a linear layer on the embedding, format 1."""
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(3, 8)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    out = io.BytesIO()
    np.savez(
        out,
        format=np.array(1),
        kind=np.array("multiclass"),
        labels=np.array(["a", "b", "c"], dtype=str),
        weights=weights,
        bias=bias,
    )
    head = Head.from_bytes(out.getvalue())
    assert head.name == "embedding/linear" and head.labels == ("a", "b", "c")
    vectors = rng.normal(size=(4, 8)).astype(np.float32)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    logits = unit @ weights.T + bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(head.probabilities(vectors), expected, atol=1e-5)


def test_the_confusion_matrix_names_the_examples_of_each_cell_off_its_diagonal() -> None:
    vectors, examples, labels = clustered([10, 10, 10], spread=0.05)  # overlapping classes
    ids = [f"img_{i:04d}" for i in range(len(examples))]
    result = train(MULTICLASS, vectors, examples, labels, candidates=[EMBEDDING_LINEAR])
    confusion = train(
        MULTICLASS, vectors, examples, labels, candidates=[EMBEDDING_LINEAR], example_ids=ids
    ).metrics["confusion_matrix"]
    wrong = confusion.pop("misclassified")
    assert confusion == result.metrics["confusion_matrix"]  # the counts are unchanged
    assert wrong, "the classes overlap: some examples are confused"
    for r, actual in enumerate(labels):
        for c, predicted in enumerate(labels):
            cell = [w for w in wrong if (w["actual"], w["predicted"]) == (actual, predicted)]
            assert len(cell) == (0 if r == c else confusion["matrix"][r][c])
    for row in wrong:
        assert examples[ids.index(row["image_id"])] == {row["actual"]}
        assert 0 < row["confidence"] <= 1
    assert [w["confidence"] for w in wrong] == sorted(
        (w["confidence"] for w in wrong), reverse=True
    )
    tagged, tags, names = attributes(40, 2)
    multilabel = train(MULTILABEL, tagged, tags, names, example_ids=[f"img_{i}" for i in range(40)])
    assert "misclassified" not in multilabel.metrics["confusion_matrix"]  # counts per label


def test_metrics_come_from_held_out_folds_not_the_training_data() -> None:
    """Random labels on random vectors: with more dimensions than examples the head fits its
    training data perfectly, but nothing generalises, so honest metrics stay near chance."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, DIMENSIONS)).astype(np.float32)
    examples = [frozenset([label]) for label in rng.permutation(["yes", "no"] * 100)]
    result = train(MULTICLASS, vectors, examples, ["no", "yes"])
    assert accuracy(result.head, vectors, examples) == 1.0
    assert result.metrics["overall"]["accuracy"] < 0.65
    assert result.metrics["overall"]["mean_average_precision"] < 0.65

    tagged = [frozenset(["tag"]) if "yes" in e else frozenset() for e in examples]
    multilabel = train(MULTILABEL, vectors, tagged, ["tag"])
    fitted = multilabel.head.probabilities(vectors)[:, 0] >= 0.5
    assert np.array_equal(fitted, np.array(["tag" in e for e in tagged]))
    assert multilabel.metrics["labels"][0]["average_precision"] < 0.65


def test_multilabel_heads_learn_each_label_independently() -> None:
    vectors, examples, labels = attributes(150, 3)
    result = train(MULTILABEL, vectors, examples, labels, threshold=0.5)
    metrics = result.metrics
    assert metrics["kind"] == "multilabel" and "accuracy" not in metrics["overall"]
    assert all(entry["average_precision"] >= 0.95 for entry in metrics["labels"])
    assert metrics["overall"]["precision"] >= 0.9 and metrics["overall"]["recall"] >= 0.9
    counts = metrics["confusion_matrix"]["per_label"]
    assert [entry["name"] for entry in counts] == labels
    for entry, label in zip(counts, labels, strict=True):
        positives = sum(label in example for example in examples)
        assert entry["tp"] + entry["fn"] == positives
        assert entry["tp"] + entry["fp"] + entry["fn"] + entry["tn"] == 150
    probabilities = result.head.probabilities(vectors)
    assert not np.allclose(probabilities.sum(axis=1), 1)  # independent sigmoids
    predicted = [frozenset(np.array(labels)[row >= 0.5]) for row in probabilities]
    assert np.mean([p == e for p, e in zip(predicted, examples, strict=True)]) >= 0.95
    assert frozenset() in predicted  # a picture may carry none of the labels


def test_precision_and_recall_are_counted_at_the_threshold() -> None:
    vectors, examples, labels = clustered([10, 10, 10], spread=0.3, seed=5)
    loose = train(MULTICLASS, vectors, examples, labels, threshold=0.34).metrics
    strict = train(MULTICLASS, vectors, examples, labels, threshold=0.9).metrics
    # Same folds and probabilities: only what counts as predicted changes.
    assert loose["overall"]["accuracy"] == strict["overall"]["accuracy"]
    assert loose["confusion_matrix"] == strict["confusion_matrix"]
    assert strict["overall"]["recall"] < loose["overall"]["recall"]
    assert strict["threshold"] == 0.9


def test_training_is_deterministic_for_a_seed() -> None:
    vectors, examples, labels = clustered([7, 8, 9], spread=0.15, seed=2)
    first = train(MULTICLASS, vectors, examples, labels, seed=4)
    second = train(MULTICLASS, vectors, examples, labels, seed=4)
    assert first.metrics == second.metrics
    assert first.head.to_bytes() == second.head.to_bytes()


def test_metrics_are_plain_rounded_json() -> None:
    vectors, examples, labels = clustered([9, 6], spread=0.1, seed=1)
    metrics = train(MULTICLASS, vectors, examples, labels, folds=10).metrics
    assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics
    assert metrics["cross_validation"]["folds"] == 6  # the smallest label's count
    numbers = [entry["precision"] for entry in metrics["labels"]] + list(
        metrics["overall"].values()
    )
    assert all(isinstance(n, float) and round(n, 4) == n for n in numbers)


def test_two_labels_give_a_two_row_softmax_that_matches_scikit_learn() -> None:
    vectors, examples, labels = clustered([20, 8], spread=0.1, seed=6)
    head = train(MULTICLASS, vectors, examples, labels, candidates=[EMBEDDING_LINEAR]).head
    assert head.weights.shape == (2, DIMENSIONS) and head.bias.shape == (2,)
    reference = LogisticRegression(C=REGULARIZATION, class_weight="balanced", max_iter=1000)
    reference.fit(vectors.astype(np.float64), [labels.index(next(iter(e))) for e in examples])
    probe, _, _ = clustered([5, 5], spread=0.1, seed=6, draw=1)
    np.testing.assert_allclose(
        head.probabilities(probe), reference.predict_proba(probe.astype(np.float64)), atol=1e-5
    )


def refusal(
    kind: ClassifierKind, labels: Sequence[str], examples: Sequence[frozenset[str]]
) -> NotEnoughExamples:
    with pytest.raises(NotEnoughExamples) as refused:
        check_examples(kind, labels, examples)
    assert refused.value.status_code == 400 and refused.value.code == "NotEnoughExamples"
    return refused.value


def test_each_multiclass_label_needs_five_examples() -> None:
    examples = [frozenset(["cat"])] * 5 + [frozenset(["dog"])] * 4 + [frozenset(["fox"])]
    error = refusal(MULTICLASS, ["cat", "dog", "fox"], examples)
    assert error.message == "Each label needs at least 5 examples: dog has 4, fox has 1."
    assert error.details == {
        "kind": "multiclass",
        "minimum": 5,
        "labels": [
            {"name": "cat", "examples": 5},
            {"name": "dog", "examples": 4},
            {"name": "fox", "examples": 1},
        ],
        "short": ["dog", "fox"],
    }
    check_examples(MULTICLASS, ["cat", "dog"], examples[:5] + [frozenset(["dog"])] * 5)


def test_a_multiclass_classifier_needs_two_labels() -> None:
    error = refusal(MULTICLASS, ["cat"], [frozenset(["cat"])] * 20)
    assert "at least 2 labels" in error.message and error.details["minimum_labels"] == 2


def test_each_multilabel_label_needs_five_examples_with_and_without_it() -> None:
    examples = [frozenset(["red", "round"])] * 6 + [frozenset(["red"])] * 3
    error = refusal(MULTILABEL, ["red", "round"], examples)
    assert error.details["short"] == ["red", "round"]
    assert error.details["labels"] == [
        {"name": "red", "examples": 9, "without": 0},
        {"name": "round", "examples": 6, "without": 3},
    ]
    assert "red has 9 with and 0 without" in error.message
    check_examples(MULTILABEL, ["red"], [frozenset(["red"])] * 5 + [frozenset()] * 5)


def test_training_refuses_too_few_examples_too() -> None:
    vectors, examples, labels = clustered([6, 4])
    with pytest.raises(NotEnoughExamples):
        train(MULTICLASS, vectors, examples, labels)


@pytest.mark.parametrize(
    "examples",
    [
        [frozenset(["cat"])] * 5 + [frozenset(["dog"])] * 5 + [frozenset(["cat", "dog"])],
        [frozenset(["cat"])] * 5 + [frozenset(["dog"])] * 5 + [frozenset()],
        [frozenset(["cat"])] * 5 + [frozenset(["dog"])] * 5 + [frozenset(["owl"])],
    ],
    ids=["two labels", "no label", "unknown label"],
)
def test_malformed_examples_are_invalid_rather_than_too_few(
    examples: list[frozenset[str]],
) -> None:
    with pytest.raises(InvalidParameter):
        check_examples(MULTICLASS, ["cat", "dog"], examples)


@pytest.mark.parametrize("kind", [MULTICLASS, MULTILABEL])
def test_a_stored_head_reads_back_identical(kind: ClassifierKind) -> None:
    vectors, examples, labels = clustered([6, 7, 5], spread=0.2, seed=8)
    if kind is MULTILABEL:
        examples = [e | {"any"} if i % 2 else e for i, e in enumerate(examples)]
        labels = [*labels, "any"]
    head = train(kind, vectors, examples, labels).head
    data = head.to_bytes()
    restored = Head.from_bytes(data)
    assert (restored.kind, restored.labels) == (kind, head.labels)
    np.testing.assert_array_equal(restored.weights, head.weights)
    np.testing.assert_array_equal(restored.bias, head.bias)
    assert restored.to_bytes() == data
    for broken in (b"", b"not a head", data[:100], data[: len(data) // 2]):
        with pytest.raises(ValueError):
            Head.from_bytes(broken)


def test_a_head_normalises_its_input_and_never_overflows() -> None:
    weights = np.array([[300.0, 0.0], [-300.0, 0.0]], np.float32)
    bias = np.zeros(2, np.float32)
    for kind in (MULTICLASS, MULTILABEL):
        head = Head(kind, ("a", "b"), weights, bias)
        unit = head.probabilities(np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 0.0]]))
        np.testing.assert_allclose(
            head.probabilities(np.array([[50.0, 0.0], [3.0, 4.0], [0.0, 0.0]])), unit
        )
        np.testing.assert_allclose(unit[0], [1.0, 0.0], atol=1e-6)
        np.testing.assert_allclose(unit[2], [0.5, 0.5])
    with pytest.raises(ValueError):
        Head(MULTICLASS, ("a", "b", "c"), weights, bias)


def test_heads_and_export_load_without_scikit_learn_or_onnx() -> None:
    """Every process that predicts imports this module; scikit-learn takes seconds to import."""
    code = (
        "import sys, sightline.classifiers.training, sightline.classifiers.export; "
        "print(sorted({'sklearn', 'scipy', 'onnx', 'threadpoolctl'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
