"""Model benchmark: every feature on 640-px JPEGs, from the bare model calls to the pipeline.

Three levels, all in one run with the same images and thread settings:

- **analysis** (per feature and for the default set): decode the bytes and run the analyzers as
  a worker does (pre-processing, model, post-processing, JSON), called directly in a loop:
  images/s and p50/p95 latency.
- **onnx**: every onnxruntime call that analysis made for one pass over the images, recorded
  with its exact inputs and replayed in a bare loop: the limit the models impose. `onnx share`
  is the fraction of the analysis time spent inside them.
- **pipeline** (default set): the embedded service's worker side. Uploads are ingested first
  (validation, blob store, catalog, outbox; their own rate is reported), then one worker thread
  relays, claims jobs, reads blobs, analyses, stores thumbnails and writes results. `pipeline /
  analysis` is the share of the bare loop's throughput the pipeline keeps (two runs, so machine
  noise of a few percent shows in it); the share of the worker's time spent inside the
  analyzers comes from the same run and is the steadier figure.

Peak RSS is read once every model is loaded.

    .venv/bin/python bench/models.py                 # all features, 24 images each
    .venv/bin/python bench/models.py -n 48 --features tags,faces --threads 1 --json
    .venv/bin/python bench/models.py --precision fp32     # the original (unquantized) models
    .venv/bin/python bench/models.py --baseline before.json  # ratios to an earlier --json run

The issue's goal for the default set is at least twice the images/s of the code before it
(`--baseline` with a `--json` report of that code, run on the same machine).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageDraw, ImageFont
from skimage import data as samples

from procstatus import MIB, memory_mib
from sightline.app import Sightline
from sightline.collection import DEFAULT_COLLECTION
from sightline.images.pipeline import run_features
from sightline.images.service import Upload
from sightline.models import Models
from sightline.settings import DEFAULT_FEATURES, Settings
from sightline.storage.records import ImageStatus
from sightline.vision import Analyzer, decode
from sightline.vision.registry import build_analyzers

SIDE = 640
MAX_BYTES = 50 * MIB
MAX_PIXELS = 80_000_000
Call = tuple[ort.InferenceSession, Any, dict[str, Any]]


@dataclass
class Figures:
    feature: str
    images: int
    images_per_s: float
    p50_ms: float
    p95_ms: float
    onnx_images_per_s: float | None
    onnx_share: float | None  # analysis time spent inside onnxruntime
    onnx_calls_per_image: float


@dataclass
class PipelineFigures:
    images: int
    ingest_images_per_s: float  # validated, stored and queued, before the workers start
    images_per_s: float  # analysed by the worker, results written
    analysis_images_per_s: float
    ratio: float  # pipeline throughput / bare analysis throughput
    analysing_share: float  # of the worker's wall time, the share spent inside the analyzers


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
    parser.add_argument(
        "--pipeline-images", type=int, default=60, help="uploads for the end-to-end pipeline row"
    )
    parser.add_argument(
        "--precision",
        choices=("int8", "fp32"),
        help="model precision (SIGHTLINE_MODEL_PRECISION; default: the settings' default)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a --json report of earlier code on this machine: print each row's ratio to it",
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

    ort.InferenceSession.run = recording
    try:
        yield calls
    finally:
        ort.InferenceSession.run = original


def analysis_pass(features: Sequence[str], analyzers: Mapping[str, Analyzer], data: bytes) -> None:
    picture = decode(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    for run in run_features(picture, features, analyzers, lambda _artifact, _role: None):
        feature = run.state.feature
        if run.state.status != "done":
            raise SystemExit(f"{feature} ended {run.state.status}: {run.state.result}")


def timed(count: int, step: Callable[[int], object]) -> list[float]:
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
        analysis_pass(features, analyzers, data)
    latencies = timed(n, lambda i: analysis_pass(features, analyzers, images[i % len(images)]))
    with recorded_model_calls() as calls:
        for data in images:
            analysis_pass(features, analyzers, data)
    run = ort.InferenceSession.run
    rounds = max(1, n // len(images))
    onnx = timed(rounds, lambda _i: [run(session, out, feed) for session, out, feed in calls])
    onnx_per_image = sum(onnx) / (rounds * len(images))
    per_image = sum(latencies) / n
    return Figures(
        feature=name,
        images=n,
        images_per_s=round(1 / per_image, 2),
        p50_ms=round(statistics.median(latencies) * 1000, 1),
        p95_ms=round(float(np.percentile(latencies, 95)) * 1000, 1),
        onnx_images_per_s=round(1 / onnx_per_image, 2) if calls else None,
        onnx_share=round(onnx_per_image / per_image, 3) if calls else None,
        onnx_calls_per_image=round(len(calls) / len(images), 1),
    )


def measure_pipeline(
    features: Sequence[str], threads: int, images: list[bytes], n: int, analysis: Figures
) -> PipelineFigures:
    """The embedded service with one worker thread, against the same analysis in a loop."""
    with tempfile.TemporaryDirectory(prefix="sightline-bench-") as folder:
        settings = Settings(
            data_dir=Path(folder),
            workers=1,
            model_threads=threads,
            model_idle_seconds=0,
            default_features=",".join(features),
            poll_interval_seconds=0.2,  # the default: a backlog is claimed without waiting
        )
        app = Sightline(settings)
        try:
            # Distinct bytes per upload: identical files would share one blob and one job's
            # worth of work would look like many.
            uploads = [Upload(_variant(images[i % len(images)], i)) for i in range(n)]
            for data in images:  # warm the models outside the clock
                analysis_pass(features, app.analyzers, data)
            # Uploads are measured by bench/upload.py; here they are all queued first, so the
            # clock sees the worker's side: relay, queue, blob reads, analysis, result writes.
            ingest_started = time.perf_counter()
            for upload in uploads:
                app.service.ingest([upload], collection=DEFAULT_COLLECTION)
            ingest_seconds = time.perf_counter() - ingest_started
            app.pool.start()
            started = time.perf_counter()
            while app.stores.images.status_counts().get(ImageStatus.DONE, 0) < n:
                failed = app.stores.images.status_counts().get(ImageStatus.FAILED, 0)
                if failed:
                    raise SystemExit(f"{failed} images failed in the pipeline")
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
            registry = app.metrics.registry
            analysing = sum(
                registry.get_sample_value(
                    "sightline_feature_duration_seconds_sum", {"feature": feature}
                )
                or 0.0
                for feature in features
            )
        finally:
            app.close()
    throughput = n / elapsed
    return PipelineFigures(
        images=n,
        ingest_images_per_s=round(n / ingest_seconds, 2),
        images_per_s=round(throughput, 2),
        analysis_images_per_s=analysis.images_per_s,
        ratio=round(throughput / analysis.images_per_s, 3),
        analysing_share=round(analysing / elapsed, 3),
    )


def _variant(data: bytes, index: int) -> bytes:
    """The same JPEG with a different trailing comment: new bytes, identical pixels."""
    return data[:-2] + b"\xff\xfe" + (8).to_bytes(2, "big") + index.to_bytes(6, "big") + data[-2:]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # Only given when asked for: code from before the setting takes no such argument.
    precision = {"precision": args.precision} if args.precision else {}
    models = Models(Settings().model_dir, threads=args.threads, idle_seconds=0, **precision)
    analyzers = build_analyzers(models)
    wanted = [name.strip() for name in args.features.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in analyzers]
    if unknown:
        raise SystemExit(f"unknown features: {', '.join(unknown)}")
    images = test_images()
    print(
        f"{len(images)} images, {args.images} timed per row, {args.threads} model threads",
        file=sys.stderr,
    )
    rows = []
    for feature in wanted:
        rows.append(measure(feature, [feature], analyzers, images, args.images))
        print(f"  measured {feature}", file=sys.stderr)
    default = [name for name in DEFAULT_FEATURES if name in wanted]
    rows.append(measure("default set", default, analyzers, images, args.images))
    rss = memory_mib("VmHWM")
    loaded = models.loaded()
    models.close()
    pipeline = measure_pipeline(default, args.threads, images, args.pipeline_images, rows[-1])
    report = {
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "loaded_models": loaded,
        "peak_rss_mib_all_models_loaded": round(rss, 1),
        "features": [asdict(row) for row in rows],
        "pipeline": asdict(pipeline),
    }
    baseline = _baseline(args.baseline)
    if baseline:
        report["ratio_to_baseline"] = {
            row.feature: round(row.images_per_s / baseline[row.feature], 2)
            for row in rows
            if baseline.get(row.feature)
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'feature':<14}{'img/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'onnx img/s':>12}{'share':>7}")
    for row in rows:
        onnx = f"{row.onnx_images_per_s:>12.2f}" if row.onnx_images_per_s else f"{'-':>12}"
        share = f"{row.onnx_share:>7.2f}" if row.onnx_share else f"{'-':>7}"
        print(
            f"{row.feature:<14}{row.images_per_s:>8.2f}{row.p50_ms:>9.1f}{row.p95_ms:>9.1f}"
            f"{onnx}{share}"
        )
    print(
        f"pipeline (default set, 1 worker thread, {pipeline.images} images): "
        f"{pipeline.images_per_s:.2f} img/s = {pipeline.ratio:.2f} x the bare analysis loop "
        f"(ingest before it: {pipeline.ingest_images_per_s:.1f} img/s); the worker spent "
        f"{pipeline.analysing_share:.0%} of its time inside the analyzers"
    )
    print(
        f"peak RSS with {len(loaded)} models loaded: {report['peak_rss_mib_all_models_loaded']} MiB"
    )
    ratios = report.get("ratio_to_baseline")
    if isinstance(ratios, dict) and "default set" in ratios:
        print(
            f"default set: {rows[-1].images_per_s:.2f} img/s = {ratios['default set']:.2f} x the "
            f"baseline's {baseline['default set']:.2f} (goal >= 2)"
        )


def _baseline(path: Path | None) -> dict[str, float]:
    """Images/s per row of an earlier --json report."""
    if path is None:
        return {}
    report = json.loads(path.read_text())
    return {row["feature"]: float(row["images_per_s"]) for row in report["features"]}


if __name__ == "__main__":
    main()
