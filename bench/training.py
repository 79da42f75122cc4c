"""Training benchmark: how long a custom classifier takes to train, and how C was chosen.

**Timing.** `train()` end to end (checks, 5-fold cross-validation of every candidate head, the
final fit of the chosen one on every example) on synthetic 1280-d unit vectors clustered as the
`embedding` feature's are (a shared non-negative part, cosine about 0.7 between images): 100, 500
and 2000 examples, 3 and 10 labels, multiclass and multilabel (each example carries each label
with probability 0.3, at least one); `heads` "embedding" tries the embedding candidates only (as
for large photos), "all" also the pixel ones on synthetic 32x32 glimpses (small pictures), the
augmented ones among them within `training.MAX_AUGMENTED_EXAMPLES` (the early-features
candidate needs real model runs and is not timed here).
Reports the median wall time of `--repeat` runs, the held-out accuracy (multiclass) or mean
average precision, and the peak of Python/numpy allocations during one more run (tracemalloc;
BLAS scratch space is not traced, the process's peak RSS is printed at the end).

**Regularisation** (`--choose-c`, needs the prepared models): real embeddings of generated
pictures, 5-fold held-out accuracy, log-loss and mean top probability of a multinomial logistic
regression for several C. Two sets: *shapes* (a red square, blue disc or green stripes on a plain
background: easy) and *marks* (five small marks, or none, on busy photo-like backgrounds: hard).

    .venv/bin/python bench/training.py                 # timing table
    .venv/bin/python bench/training.py --choose-c      # plus the regularisation table
    .venv/bin/python bench/training.py --sizes 500 --labels 10 --repeat 5 --json

**Through the service** (`--job`, on by default): a catalogue of images whose embeddings are
already stored, labelled through the classifier service, then `POST …/train` to a ready
version: the request (example check, snapshot) and the worker's job (reading the stored vectors
from the catalog, training, storing the head and metrics) timed separately.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from procstatus import MIB, memory_mib
from sightline.classifiers.inputs import GLIMPSE_SIDE
from sightline.classifiers.training import REGULARIZATION, ClassifierKind, train
from sightline.collection import DEFAULT_COLLECTION
from sightline.models import Models
from sightline.settings import Settings
from sightline.vision.tags import classifier, classify_batch

DIMENSIONS = 1280

SPREAD = 0.12  # distinct part of each label's centre: from hard (10 labels, 100 examples) to easy


@dataclass
class Timing:
    kind: str
    examples: int
    labels: int
    heads: str  # "embedding": the embedding candidates only; "all": the pixel ones too
    seconds: float  # median over the repeats
    held_out: float  # accuracy (multiclass) or mean average precision (multilabel)
    peak_mib: float  # tracemalloc peak during one run


@dataclass
class Choice:
    dataset: str
    examples: int
    c: float
    accuracy: float
    log_loss: float
    mean_top: float  # mean highest probability: near the accuracy when calibrated


def synthetic(
    kind: ClassifierKind, count: int, labels: int, seed: int = 0
) -> tuple[np.ndarray, list[frozenset[str]], list[str]]:
    rng = np.random.default_rng(seed)
    names = [f"label{i}" for i in range(labels)]
    common = np.abs(rng.normal(size=DIMENSIONS))
    centres = SPREAD * rng.normal(size=(labels, DIMENSIONS))
    if kind is ClassifierKind.MULTICLASS:
        present = np.zeros((count, labels), bool)
        present[np.arange(count), np.arange(count) % labels] = True
    else:
        present = rng.random((count, labels)) < 0.3
        present[~present.any(axis=1), 0] = True
    vectors = common + present @ centres + rng.normal(size=(count, DIMENSIONS))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    examples = [frozenset(n for n, p in zip(names, row, strict=True) if p) for row in present]
    return vectors.astype(np.float32), examples, names


def glimpses(examples: Sequence[frozenset[str]], names: Sequence[str]) -> np.ndarray:
    """(N, 32, 32) grey pictures: noise plus a faint pattern per label the example carries."""
    rng = np.random.default_rng(1)
    patterns = rng.random((len(names), GLIMPSE_SIDE, GLIMPSE_SIDE))
    present = np.array([[name in example for name in names] for example in examples], float)
    noise = rng.random((len(examples), GLIMPSE_SIDE, GLIMPSE_SIDE))
    return (0.7 * noise + 0.3 * np.einsum("nl,lhw->nhw", present, patterns)).astype(np.float32)


def measure(kind: ClassifierKind, count: int, labels: int, heads: str, repeat: int) -> Timing:
    """`train()` on synthetic embeddings, with synthetic glimpses when `heads` is "all" (the
    examples are small pictures, so the pixel candidates are tried too)."""
    vectors, examples, names = synthetic(kind, count, labels)
    pictures = glimpses(examples, names) if heads == "all" else None
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = train(kind, vectors, examples, names, glimpses=pictures)
        seconds.append(time.perf_counter() - started)
    tracemalloc.start()
    train(kind, vectors, examples, names, glimpses=pictures)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    overall = result.metrics["overall"]
    held_out = overall.get("accuracy", overall["mean_average_precision"])
    return Timing(
        kind.value, count, labels, heads, statistics.median(seconds), held_out, peak / MIB
    )


def photo_like(rng: np.random.Generator, side: int = 224) -> Image.Image:
    """A smooth random colour field with a few hard-edged blocks: a busy background."""
    coarse = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    pixels = np.array(Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC))
    for _ in range(4):
        x, y = rng.integers(0, side * 3 // 4, 2)
        w, h = rng.integers(side // 8, side // 3, 2)
        pixels[y : y + h, x : x + w] = rng.integers(0, 256, size=3)
    return Image.fromarray(pixels)


def picture(dataset: str, kind: int, seed: int) -> Image.Image:
    rng = np.random.default_rng([seed, kind, len(dataset)])
    side = 224
    if dataset == "shapes":
        image = Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(190, 250, 3)))
        r = int(rng.integers(30, 70))
    else:
        image = photo_like(rng)
        r = int(rng.integers(18, 32))
    draw = ImageDraw.Draw(image)
    x, y = (int(v) for v in rng.integers(r, side - r, 2))
    box = [x - r, y - r, x + r, y + r]
    if kind == 0:
        draw.rectangle(box, fill=(220, 30, 30))
    elif kind == 1:
        draw.ellipse(box, fill=(30, 30, 220))
    elif kind == 2:
        for top in range(y - r, y + r, 10):
            draw.rectangle([x - r, top, x + r, top + 4], fill=(30, 200, 30))
    elif kind == 3:
        draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=(240, 240, 0))
    # kind 4 of "marks": no mark at all
    return image


def choose_c(per_label: Sequence[int], candidates: Sequence[float]) -> list[Choice]:
    models = Models(Settings().model_dir, threads=2, idle_seconds=0)
    rows = []
    try:
        with classifier(models).acquire() as model:
            for dataset, kinds in (("shapes", 3), ("marks", 5)):
                most = max(per_label)
                images = [picture(dataset, k, s) for k in range(kinds) for s in range(most)]
                features = np.concatenate(
                    [
                        classify_batch(model, images[i : i + 32])[1]
                        for i in range(0, len(images), 32)
                    ]
                )
                features /= np.linalg.norm(features, axis=1, keepdims=True)
                target = np.repeat(np.arange(kinds), most)
                for count in per_label:
                    keep = np.tile(np.arange(most) < count, kinds)
                    for c in candidates:
                        rows.append(held_out(dataset, features[keep], target[keep], c))
                print(f"  measured {dataset}", file=sys.stderr)
    finally:
        models.close()
    return rows


def held_out(dataset: str, features: np.ndarray, target: np.ndarray, c: float) -> Choice:
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    with threadpool_limits(limits=1, user_api="blas"):
        probabilities = cross_val_predict(model, features, target, cv=folds, method="predict_proba")
    return Choice(
        dataset,
        len(target),
        c,
        round(float(np.mean(probabilities.argmax(axis=1) == target)), 3),
        round(float(log_loss(target, probabilities)), 3),
        round(float(probabilities.max(axis=1).mean()), 3),
    )


@dataclass
class JobTiming:
    examples: int
    labels: int
    request_seconds: float  # POST …/train: checks and the version's example snapshot
    job_seconds: float  # the worker's job: vectors from the catalog, train, store


def measure_job(count: int, label_count: int) -> JobTiming:
    """Train through the service and the worker's job on a temporary embedded catalog."""
    from sightline.app import Sightline
    from sightline.events import JobKind
    from sightline.ids import new_image_id
    from sightline.queue import Job
    from sightline.storage.records import FeatureState, FeatureStatus, NewImage

    vectors, examples, _names = synthetic(ClassifierKind.MULTICLASS, count, label_count, count)
    with tempfile.TemporaryDirectory() as folder:
        app = Sightline(Settings(data_dir=folder, workers=0))
        embedding = app.analyzers["embedding"]
        images = [
            NewImage(new_image_id(), f"{i:064x}", None, "image/jpeg", "JPEG", 1, 1, 1, {}, [])
            for i in range(count)
        ]

        class Keeper:
            def ensure(self, sha256: str) -> None: ...

            def discard(self, sha256: str) -> None: ...

        app.stores.images.add_images(images, [], Keeper())
        for image, vector in zip(images, vectors, strict=True):
            state = FeatureState(
                "embedding",
                FeatureStatus.DONE,
                embedding.name,
                embedding.version,
                {"vector": [float(x) for x in vector]},
            )
            app.stores.images.finish_features(image.id, [state], [], Keeper(), f"bench-{image.id}")
        app.classifiers.create("bench", "multiclass", collection=DEFAULT_COLLECTION)
        app.classifiers.add_examples(
            "bench",
            [(image.id, sorted(labels)) for image, labels in zip(images, examples, strict=True)],
            collection=None,
        )
        started = time.perf_counter()
        version = app.classifiers.train("bench", collection=None)
        requested = time.perf_counter()
        job = Job("bench", {"classifier_id": version.classifier_id, "version": 1}, 1, "token")
        app.pool.handlers[JobKind.TRAIN].process(job)
        finished = time.perf_counter()
        assert app.classifiers.version("bench", 1, collection=None).status == "ready"
        app.close()
    return JobTiming(count, label_count, requested - started, finished - requested)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sizes", default="100,500,2000", help="example counts")
    parser.add_argument("--labels", default="3,10", help="label counts")
    parser.add_argument(
        "--heads", default="embedding,all", help="candidates: embedding only, or all (pixels)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per row")
    parser.add_argument("--choose-c", action="store_true", help="also the C table (models)")
    parser.add_argument(
        "--job", action=argparse.BooleanOptionalAction, default=True, help="also via the job"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [int(v) for v in args.sizes.split(",")]
    label_counts = [int(v) for v in args.labels.split(",")]
    timings = []
    for kind in ClassifierKind:
        for labels in label_counts:
            for heads in args.heads.split(","):
                for count in sizes:
                    timings.append(measure(kind, count, labels, heads, args.repeat))
                    print(f"  measured {kind.value} {labels} {heads} {count}", file=sys.stderr)
    jobs = [measure_job(count, 10) for count in sizes] if args.job else []
    choices = choose_c([8, 20, 80], [1.0, 10.0, 100.0, 1000.0]) if args.choose_c else []
    report: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "regularization": REGULARIZATION,
        "timings": [asdict(row) for row in timings],
        "jobs": [asdict(row) for row in jobs],
        "choose_c": [asdict(row) for row in choices],
        "peak_rss_mib": round(memory_mib("VmHWM"), 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"train() incl. 5-fold CV, C={REGULARIZATION}, {os.cpu_count()} CPUs")
    print(
        f"{'kind':<11}{'labels':>7}{'heads':>10}{'examples':>9}{'seconds':>9}{'held-out':>9}"
        f"{'peak MiB':>9}"
    )
    for row in timings:
        print(
            f"{row.kind:<11}{row.labels:>7}{row.heads:>10}{row.examples:>9}{row.seconds:>9.2f}"
            f"{row.held_out:>9.3f}{row.peak_mib:>9.1f}"
        )
    if jobs:
        print("\nthrough the service: stored embeddings, 10 labels, multiclass")
        print(f"{'examples':>9}{'request s':>10}{'job s':>8}")
        for job in jobs:
            print(f"{job.examples:>9}{job.request_seconds:>10.3f}{job.job_seconds:>8.2f}")
    if choices:
        print("\nreal embeddings, multinomial LR, 5-fold held-out")
        print(f"{'set':<8}{'examples':>9}{'C':>7}{'accuracy':>9}{'log-loss':>9}{'mean top':>9}")
        for choice in choices:
            print(
                f"{choice.dataset:<8}{choice.examples:>9}{choice.c:>7g}{choice.accuracy:>9.3f}"
                f"{choice.log_loss:>9.3f}{choice.mean_top:>9.3f}"
            )
    print(f"\npeak RSS {report['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
