"""Model benchmark: each feature through the real pipeline vs its model calls in a bare loop.

For every feature (and for the default set) on 640-px JPEGs, this measures images/s and p50/p95
latency of the pipeline path: decode the bytes, run the analyzer (pre-processing, model,
post-processing, JSON) as the workers do. It also records every onnxruntime call the pipeline
made for one pass over the images and replays exactly those calls in a bare loop: the limit the
models themselves impose. `pipeline / bare` is the share of time spent in the models; the rest
is the pipeline's overhead. Peak RSS is read once every model is loaded.

    .venv/bin/python bench/models.py                 # all features, 24 images each
    .venv/bin/python bench/models.py -n 48 --features tags,faces --threads 1 --json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageDraw, ImageFont
from skimage import data as samples

from sightline.models import Models
from sightline.pipeline import run_feature
from sightline.settings import DEFAULT_FEATURES, Settings
from sightline.vision import Analyzer
from sightline.vision.registry import build_analyzers, decode

MIB = 1024 * 1024
SIDE = 640
MAX_BYTES = 50 * MIB
MAX_PIXELS = 80_000_000
Call = tuple[ort.InferenceSession, Any, dict[str, Any]]


@dataclass
class Figures:
    feature: str
    images: int
    pipeline_images_per_s: float
    p50_ms: float
    p95_ms: float
    bare_images_per_s: float
    ratio: float  # pipeline throughput / bare throughput
    model_calls_per_image: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark every vision feature: pipeline vs bare model calls.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-n", "--images", type=int, default=24, help="timed images per feature")
    parser.add_argument(
        "--features",
        default=",".join(DEFAULT_FEATURES + ("adult",)),
        help="comma-separated features to measure one by one",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="intra-op threads per model (a worker process divides the cores among its threads)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


# -- images ----------------------------------------------------------------------------------


def test_images() -> list[bytes]:
    """640-px JPEGs: four photos that ship with scikit-image and a rendered document."""
    photos = [samples.astronaut(), samples.coffee(), samples.chelsea(), samples.rocket()]
    images = [_scaled(Image.fromarray(photo)) for photo in photos] + [_document()]
    encoded = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        encoded.append(buffer.getvalue())
    return encoded


def _scaled(image: Image.Image) -> Image.Image:
    ratio = SIDE / max(image.size)
    size = (round(image.width * ratio), round(image.height * ratio))
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _document() -> Image.Image:
    image = Image.new("RGB", (SIDE, 480), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=22)
    lines = [
        "CLAIM FORM  Policy POL-2024-118734",
        "Name: Jane Example   Date: 2026-03-14",
        "Vehicle: blue hatchback, rear bumper",
        "Damage: dented panel and broken light",
        "Estimate: 1,240.50 EUR   Ref 88-4471",
    ]
    for row, text in enumerate(lines):
        draw.text((24, 40 + row * 80), text, fill="black", font=font)
    return image


# -- measuring -------------------------------------------------------------------------------


@contextmanager
def recorded_model_calls() -> Iterator[list[Call]]:
    """Every `InferenceSession.run` made inside the block, with its exact inputs."""
    calls: list[Call] = []
    original = ort.InferenceSession.run

    def recording(session: ort.InferenceSession, output_names: Any, feed: Any, *rest: Any) -> Any:
        calls.append((session, output_names, dict(feed)))
        return original(session, output_names, feed, *rest)

    ort.InferenceSession.run = recording  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        ort.InferenceSession.run = original  # type: ignore[method-assign]


def pipeline_pass(features: Sequence[str], analyzers: dict[str, Analyzer], data: bytes) -> None:
    picture = decode(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    for feature in features:
        run = run_feature(feature, analyzers[feature], picture, lambda _artifact, _role: "")
        if run.state.status != "done":
            raise SystemExit(f"{feature} ended {run.state.status}: {run.state.result}")


def timed(count: int, step: Callable[[int], None]) -> list[float]:
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        step(index)
        latencies.append(time.perf_counter() - started)
    return latencies


def measure(
    name: str, features: Sequence[str], analyzers: dict[str, Analyzer], images: list[bytes], n: int
) -> Figures:
    for data in images:  # warm-up: load models, touch every code path once
        pipeline_pass(features, analyzers, data)
    latencies = timed(n, lambda i: pipeline_pass(features, analyzers, images[i % len(images)]))
    with recorded_model_calls() as calls:
        for data in images:
            pipeline_pass(features, analyzers, data)
    run = ort.InferenceSession.run
    per_pass = len(calls)
    rounds = max(1, n // len(images))
    bare = timed(
        rounds,
        lambda _i: [run(session, outputs, feed) for session, outputs, feed in calls],
    )
    bare_per_image = sum(bare) / (rounds * len(images))
    pipeline_per_image = sum(latencies) / n
    return Figures(
        feature=name,
        images=n,
        pipeline_images_per_s=round(1 / pipeline_per_image, 2),
        p50_ms=round(statistics.median(latencies) * 1000, 1),
        p95_ms=round(float(np.percentile(latencies, 95)) * 1000, 1),
        bare_images_per_s=round(1 / bare_per_image, 2) if per_pass else 0.0,
        ratio=round(bare_per_image / pipeline_per_image, 3) if per_pass else 0.0,
        model_calls_per_image=round(per_pass / len(images), 1),
    )


def peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MIB
    return 0.0


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    settings = Settings()
    models = Models(settings.model_dir, threads=args.threads, idle_seconds=0)
    analyzers = build_analyzers(models)
    wanted = [name.strip() for name in args.features.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in analyzers]
    if unknown:
        raise SystemExit(f"unknown features: {', '.join(unknown)}")
    images = test_images()
    print(f"{len(images)} images, {args.images} timed per feature, {args.threads} threads")
    rows = []
    for feature in wanted:
        rows.append(measure(feature, [feature], analyzers, images, args.images))
        print(f"  measured {feature}", file=sys.stderr)
    default = [name for name in DEFAULT_FEATURES if name in wanted]
    rows.append(measure("default set", default, analyzers, images, args.images))
    report = {
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "loaded_models": models.cache.loaded(),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "features": [asdict(row) for row in rows],
    }
    models.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'feature':<14}{'img/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'bare img/s':>12}{'ratio':>7}")
    for row in rows:
        print(
            f"{row.feature:<14}{row.pipeline_images_per_s:>8.2f}{row.p50_ms:>9.1f}"
            f"{row.p95_ms:>9.1f}{row.bare_images_per_s:>12.2f}{row.ratio:>7.3f}"
        )
    loaded = len(report["loaded_models"])
    print(f"peak RSS with {loaded} models loaded: {report['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
