"""Decode memory benchmark: a burst of tiny files that decode to huge pictures.

Starts a fresh `sightline serve` (its in-process workers analyse what is uploaded), analyses one
small picture so every model is loaded, then uploads N distinct 1-bit PNGs of 8900x8900 pixels
(just under the default pixel limit, about 20 KB each) from N concurrent clients, waits until
every accepted one is analysed and then until the server's memory settles. Reports the server's
RSS before the burst, its peak (VmHWM) and its RSS after the burst, with what was accepted and
refused. Linux only (reads `/proc`).

    .venv/bin/python bench/decode_memory.py                     # 4 pictures at once
    SIGHTLINE_DECODE_MEMORY_BYTES=2147483648 .venv/bin/python bench/decode_memory.py -n 8

The server inherits this process's environment, so `SIGHTLINE_*` variables set for the
benchmark configure it.

`--estimates` checks `sightline.vision.decode_cost` instead: for pictures of each kind (mode and
format) at two sizes, each in a fresh process with the models loaded, the peak RSS above the
baseline while decoding and while running every default feature, per pixel as the slope
between the two sizes (what does not grow with the picture, like the models' buffers, cancels
out), next to the estimate.

    .venv/bin/python bench/decode_memory.py --estimates
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import subprocess
import sys
import threading
import time
from argparse import SUPPRESS
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageDraw

from procstatus import MIB, status_kib
from sightline.client import ApiError, Client
from sightline.settings import DEFAULT_FEATURES
from upload import image_counts, positive_int, running_server

SMALL_SIDE = 640
MARK_SIDE = 100


# (format, mode) of the pictures `--estimates` measures: the common, the cheap, the costly.
KINDS = (
    ("PNG", "1"),
    ("PNG", "L"),
    ("PNG", "P"),
    ("JPEG", "RGB"),
    ("PNG", "RGBA"),
    ("PNG", "I;16"),
    ("TIFF", "F"),
    ("WEBP", "RGB"),
    ("AVIF", "RGB"),
    ("HEIF", "RGB"),
)
ESTIMATE_SIDES = (2000, 4000)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Measure the server's memory through a burst of huge 1-bit PNG uploads.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "-n", "--images", type=positive_int, default=4, help="pictures uploaded at once"
    )
    parser.add_argument("--side", type=positive_int, default=8900, help="width and height")
    parser.add_argument(
        "--workers", type=int, default=2, help="analysis worker threads (`serve --workers`)"
    )
    parser.add_argument(
        "--features",
        default=",".join(DEFAULT_FEATURES),
        help="features each upload gets (the server's SIGHTLINE_DEFAULT_FEATURES)",
    )
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds to watch RSS after the burst"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="give up waiting for analysis after this"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--estimates",
        action="store_true",
        help="compare the decode cost estimates with the memory measured, instead of a burst",
    )
    parser.add_argument("--probe", nargs=3, metavar=("FORMAT", "MODE", "SIDE"), help=SUPPRESS)
    return parser.parse_args(argv)


def bilevel_png(side: int, seed: int) -> bytes:
    """A white 1-bit square with a black mark placed by `seed`: distinct pictures of about
    20 KB each at 8900 pixels a side."""
    image = Image.new("1", (side, side), 1)
    corner = (seed * 997) % (side - MARK_SIDE)
    ImageDraw.Draw(image).rectangle(
        [(corner, corner), (corner + MARK_SIDE, corner + MARK_SIDE)], fill=0
    )
    return encode(image, "PNG", optimize=True)


@dataclass
class Burst:
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def upload(self, base_url: str, data: bytes, name: str, start: threading.Barrier) -> None:
        with Client(base_url, timeout=600.0) as client:
            start.wait()
            try:
                client.upload(data, filename=name, content_type="image/png")
            except ApiError as exc:
                with self.lock:
                    self.refused[exc.code] = self.refused.get(exc.code, 0) + 1
                return
        with self.lock:
            self.accepted += 1


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    return (status_kib(pid, key) or 0) * 1024 / MIB


def wait_analysed(base_url: str, expected: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=30.0) as http:
        while True:
            counts = image_counts(http)
            if counts.get("done", 0) + counts.get("failed", 0) >= expected:
                return counts
            if time.monotonic() > deadline:
                raise SystemExit(f"analysis not finished after {timeout:.0f}s: {counts}")
            time.sleep(0.25)


def settle(pid: int, seconds: float) -> list[float]:
    """RSS once a second for `seconds`: memory handed back shows as a falling curve."""
    samples = []
    for _ in range(max(1, round(seconds))):
        time.sleep(1.0)
        samples.append(round(rss_mib(pid), 1))
    return samples


def run(args: argparse.Namespace) -> dict[str, Any]:
    pictures = [bilevel_png(args.side, seed) for seed in range(args.images)]
    with running_server(args.workers, args.features, 60.0, None) as server:
        pid = server.process.pid
        with Client(server.base_url, timeout=600.0) as client:
            client.upload(
                encode(sample_picture("RGB", SMALL_SIDE), "PNG"),
                filename="warm-up.png",
                content_type="image/png",
            )
        wait_analysed(server.base_url, 1, args.timeout)
        time.sleep(1.0)
        baseline = rss_mib(pid)
        burst = Burst()
        start = threading.Barrier(len(pictures) + 1)
        threads = [
            threading.Thread(
                target=burst.upload,
                args=(server.base_url, data, f"bilevel-{index}.png", start),
                daemon=True,
            )
            for index, data in enumerate(pictures)
        ]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        counts = wait_analysed(server.base_url, 1 + burst.accepted, args.timeout)
        seconds = time.perf_counter() - began
        after = settle(pid, args.settle)
        return {
            "pictures": len(pictures),
            "picture": f"{args.side}x{args.side} 1-bit PNG",
            "mean_file_kib": round(sum(map(len, pictures)) / len(pictures) / 1024, 1),
            "workers": args.workers,
            "accepted": burst.accepted,
            "refused": burst.refused,
            "analysed_done": counts.get("done", 0) - 1,
            "analysis_failed": counts.get("failed", 0),
            "burst_seconds": round(seconds, 1),
            "baseline_rss_mib": round(baseline, 1),
            "peak_rss_mib": round(rss_mib(pid, "VmHWM"), 1),
            "settled_rss_mib": after[-1],
            "rss_after_burst_mib": after,
        }


# -- estimates -------------------------------------------------------------------------------


def sample_picture(mode: str, side: int) -> Image.Image:
    """A smooth colour field in `mode`, the same picture at every size: what the features
    find in it (OCR's text boxes, a page turned upright) must not differ between the two
    sizes whose difference is measured. Bilevel by threshold: dithering would be noise."""
    grid = np.random.default_rng(0).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    image = Image.fromarray(grid, "RGB").resize((side, side), Image.Resampling.BICUBIC)
    if mode == "RGBA":
        image.putalpha(image.getchannel("G"))
    elif mode == "1":
        return image.convert("L").convert("1", dither=Image.Dither.NONE)
    elif mode == "I;16":
        return Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)
    elif mode == "F":
        return Image.fromarray(np.asarray(image.convert("L"), np.float32) / 255)
    elif mode != "RGB":
        return image.convert(mode)
    return image


def probe(format_: str, mode: str, side: int) -> dict[str, Any]:
    """Peak RSS above the baseline (bytes) while one picture is decoded, then analysed with
    every default feature; run in a fresh process, with the models loaded and warm."""
    from sightline.allocator import return_large_blocks
    from sightline.images.pipeline import analyze_once
    from sightline.models import Models
    from sightline.settings import Settings
    from sightline.vision import decode
    from sightline.vision.decode_cost import DecodeCost
    from sightline.vision.registry import build_analyzers

    return_large_blocks()  # as `sightline serve` does: RSS then follows what is held
    settings = Settings()
    analyzers = build_analyzers(Models.from_settings(settings))
    features = settings.default_features.split(",")

    def decoded(data: bytes) -> Any:
        return decode(data, max_bytes=len(data), max_pixels=side * side)

    analyze_once(decoded(encode(sample_picture("RGB", SMALL_SIDE), "PNG")), features, analyzers)
    data = encode(sample_picture(mode, side), format_)
    gc.collect()
    baseline = status_kib("self", "VmRSS") or 0
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    picture = decoded(data)
    after_decoding = status_kib("self", "VmHWM") or 0
    analyze_once(picture, features, analyzers)
    after_analysis = status_kib("self", "VmHWM") or 0
    cost = DecodeCost.of(Image.open(io.BytesIO(data)))
    return {
        "pixels": cost.pixels,
        "decoded": (after_decoding - baseline) * 1024,
        "analysed": (after_analysis - baseline) * 1024,
        "estimated_decoded": cost.decoded,
        "estimated_analysed": cost.analysed,
    }


def encode(image: Image.Image, format_: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format_, **options)
    return out.getvalue()


def check_estimates() -> list[dict[str, Any]]:
    rows = []
    for format_, mode in KINDS:
        print(f"measuring {format_} {mode} ...", file=sys.stderr)
        small, large = (run_probe(format_, mode, side) for side in ESTIMATE_SIDES)
        pixels = large["pixels"] - small["pixels"]
        rows.append(
            {
                "format": format_,
                "mode": mode,
                **{
                    f"{stage}_bytes_per_pixel": round((large[stage] - small[stage]) / pixels, 1)
                    for stage in ("decoded", "analysed")
                },
                **{
                    f"estimated_{stage}_bytes_per_pixel": round(
                        large[f"estimated_{stage}"] / large["pixels"], 1
                    )
                    for stage in ("decoded", "analysed")
                },
            }
        )
    return rows


def run_probe(format_: str, mode: str, side: int) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, __file__, "--probe", format_, mode, str(side)],
        check=True,
        capture_output=True,
        text=True,
    )
    probed: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return probed


def format_estimates(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["bytes per pixel     decoded: measured  estimated    analysed: measured  estimated"]
    for row in rows:
        lines.append(
            f"{row['format']:>5} {row['mode']:<5}"
            f"{row['decoded_bytes_per_pixel']:>26}{row['estimated_decoded_bytes_per_pixel']:>11}"
            f"{row['analysed_bytes_per_pixel']:>29}{row['estimated_analysed_bytes_per_pixel']:>11}"
        )
    return "\n".join(lines)


# -- report ----------------------------------------------------------------------------------


def format_report(report: dict[str, Any]) -> str:
    refused = ", ".join(f"{count} {code}" for code, count in report["refused"].items())
    rows = [
        (
            "pictures",
            f"{report['pictures']} x {report['picture']}, mean {report['mean_file_kib']} KiB",
        ),
        ("workers", f"{report['workers']} analysis threads"),
        ("accepted", f"{report['accepted']}; refused: {refused or 'none'}"),
        (
            "analysed",
            f"{report['analysed_done']} done, {report['analysis_failed']} failed, "
            f"{report['burst_seconds']} s from first upload",
        ),
        ("RSS before burst", f"{report['baseline_rss_mib']} MiB (models loaded)"),
        ("peak RSS", f"{report['peak_rss_mib']} MiB (VmHWM)"),
        ("RSS after burst", f"{report['settled_rss_mib']} MiB"),
        ("  each second", " ".join(str(value) for value in report["rss_after_burst_mib"])),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe:
        format_, mode, side = args.probe
        print(json.dumps(probe(format_, mode, int(side))))
        return 0
    if args.estimates:
        rows = check_estimates()
        print(json.dumps(rows, indent=2) if args.json else format_estimates(rows))
        return 0
    report = run(args)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
