"""Ingest benchmark: `sightline serve --no-workers` against bare handlers on the same uvicorn.

Every configuration is its own uvicorn process on a loopback port with a fresh folder, and gets
the same uploads: N copies of one photo-like JPEG (about 252 KiB), each made distinct by a JPEG
comment so that content-addressed storage stores every one, sent raw (`image/jpeg`, as the
Python client sends one file) by concurrent client threads. The configurations:

- `sightline`: `sightline serve --no-workers` with `SIGHTLINE_DEFAULT_FEATURES=metadata`, so an
  upload is only validated, stored and catalogued; `--sightline-src LABEL=PATH` runs it from
  other source trees as well (PYTHONPATH), e.g. the code before a change, in the same run;
- `decode`: a bare Starlette handler that does the same validation: decodes the picture in full
  with Pillow, hashes it (sha256) and writes it durably (a temporary file, fsync, rename, fsync
  of the folder): the baseline Sightline's ingest is measured against;
- `write`: a bare handler that only writes the body durably.

The configurations take turns in rounds (each round uploads N/rounds images to each, in a
rotating order), so a busy neighbour on a shared host slows all of them alike. Reported per
configuration: uploads/s, latency p50/p95/p99, server CPU ms per upload (/proc, Linux), and for
Sightline its throughput as a share of `decode`'s, next to the goals (>= 0.8 and p99 < 60 ms).

    .venv/bin/python bench/ingest.py                                  # 400 uploads, 8 clients
    .venv/bin/python bench/ingest.py -n 200 --configs sightline,decode --json
    .venv/bin/python bench/ingest.py --sightline-src before=../before/src
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image
from skimage import data as samples
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from upload import (
    Server,
    cpu_seconds,
    free_port,
    parse_source,
    percentile,
    positive_int,
    running_server,
    source_env,
    supervised,
)

KIB = 1024
CONFIGS = ("sightline", "decode", "write")
BASELINES = ("decode", "write")
RATIO_GOAL = 0.8
P99_GOAL_MS = 60.0


# -- arguments -------------------------------------------------------------------------------


def parse_configs(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated subset of {','.join(CONFIGS)}, not {text!r}"
        )
    return list(dict.fromkeys(names))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark ingest: `sightline serve --no-workers` against bare handlers "
        "that decode, hash and durably write (or only write) each upload.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "-n", "--uploads", type=positive_int, default=400, help="uploads per configuration"
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=8, help="concurrent client threads"
    )
    parser.add_argument(
        "--configs",
        type=parse_configs,
        default=",".join(CONFIGS),
        help="which configurations to run, comma-separated",
    )
    parser.add_argument(
        "--sightline-src",
        type=parse_source,
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="also run `sightline` from this source folder (put first on PYTHONPATH), shown as "
        "sightline[LABEL]; repeatable",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=4, help="turns each configuration takes"
    )
    parser.add_argument(
        "--warmup", type=int, default=16, help="unmeasured uploads per server before the clock"
    )
    parser.add_argument("--kib", type=positive_int, default=252, help="JPEG size to aim for")
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="seconds to wait for /healthz"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    # A baseline server's own process (this script runs itself): not for users.
    parser.add_argument("--serve-baseline", choices=BASELINES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- the image -------------------------------------------------------------------------------


def photo_jpeg(target_kib: int) -> bytes:
    """A 1200x800 photograph (scikit-image's coffee, enlarged, with sensor-like grain), at the
    JPEG quality whose file comes closest to `target_kib`."""
    width, height = 1200, 800
    picture = Image.fromarray(samples.coffee()).resize((width, height), Image.Resampling.LANCZOS)
    rng = np.random.default_rng(0)
    grain = rng.normal(0.0, 5.0, size=(height, width, 3))
    pixels = np.clip(np.asarray(picture, dtype=np.float64) + grain, 0, 255).astype(np.uint8)
    photo = Image.fromarray(pixels, "RGB")

    def encoded(quality: int) -> bytes:
        out = io.BytesIO()
        photo.save(out, format="JPEG", quality=quality)
        return out.getvalue()

    return min((encoded(q) for q in range(50, 98)), key=lambda b: abs(len(b) - target_kib * KIB))


def distinct_copies(jpeg: bytes, count: int) -> list[bytes]:
    """`count` copies of `jpeg` that differ only in a comment (COM) segment after SOI: the same
    picture to decode, different bytes to hash and store."""
    copies = []
    for index in range(count):
        comment = f"sightline ingest bench {index:08d}".encode()
        segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
        copies.append(jpeg[:2] + segment + jpeg[2:])
    return copies


# -- the baseline servers --------------------------------------------------------------------


def durable_write(folder: Path, name: str, data: bytes) -> None:
    """What a durable write takes: the bytes and the rename that names them, each synced."""
    part = folder / f"{name}.part"
    with part.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(part, folder / name)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def decode_hash_write(folder: Path, body: bytes) -> dict[str, Any]:
    with Image.open(io.BytesIO(body)) as image:
        image.load()
        width, height = image.size
    sha256 = hashlib.sha256(body).hexdigest()
    durable_write(folder, sha256, body)
    return {"sha256": sha256, "width": width, "height": height, "size": len(body)}


def write_only(folder: Path, body: bytes) -> dict[str, Any]:
    name = uuid.uuid4().hex
    durable_write(folder, name, body)
    return {"name": name, "size": len(body)}


def baseline_app(kind: str, folder: Path) -> Starlette:
    """The bare handler: the body read in full, the blocking work in the thread pool (as
    Starlette runs a sync endpoint), a small JSON answer."""
    work: Callable[[Path, bytes], dict[str, Any]] = (
        decode_hash_write if kind == "decode" else write_only
    )

    async def upload(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(await run_in_threadpool(work, folder, body), status_code=201)

    async def healthz(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/v1/images", upload, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


def serve_baseline(kind: str, port: int, folder: Path) -> None:
    import uvicorn

    uvicorn.run(baseline_app(kind, folder), host="127.0.0.1", port=port, log_level="warning")


@contextmanager
def running_baseline(kind: str, startup_timeout: float) -> Iterator[Server]:
    folder = Path(tempfile.mkdtemp(prefix=f"sightline-bench-{kind}-"))
    log_path = folder / "server.log"
    (folder / "files").mkdir()
    port = free_port()
    command = [sys.executable, __file__, "--serve-baseline", kind, "--port", str(port)]
    command += ["--folder", str(folder / "files")]
    with supervised(command, port, folder, log_path, startup_timeout) as server:
        yield server


@dataclass(frozen=True)
class Config:
    name: str
    start: Callable[[], AbstractContextManager[Server]]


def configs(args: argparse.Namespace) -> list[Config]:
    chosen: list[Config] = []
    for name in args.configs:
        if name == "sightline":
            chosen.append(Config(name, partial(sightline_server, args, None)))
            for label, folder in args.sightline_src:
                chosen.append(
                    Config(f"sightline[{label}]", partial(sightline_server, args, folder))
                )
        else:
            chosen.append(Config(name, partial(running_baseline, name, args.startup_timeout)))
    return chosen


def sightline_server(
    args: argparse.Namespace, source: Path | None
) -> AbstractContextManager[Server]:
    return running_server(0, "metadata", args.startup_timeout, None, env=source_env(source))


# -- uploads ---------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    uploads: int = 0
    errors: list[str] = field(default_factory=list)


def post_all(base_url: str, images: Sequence[bytes], concurrency: int, tally: Tally) -> None:
    """`concurrency` client threads take the next image until none is left; every answer but
    a 2xx is an error."""
    indexes = iter(range(len(images)))
    lock = threading.Lock()
    start = threading.Barrier(concurrency + 1)
    latencies: list[float] = []
    errors: list[str] = []

    def client() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=base_url, timeout=120.0) as http:
            start.wait()
            while True:
                with lock:
                    index = next(indexes, None)
                if index is None:
                    break
                began = time.perf_counter()
                try:
                    response = http.post(
                        "/v1/images",
                        content=images[index],
                        headers={"Content-Type": "image/jpeg", "X-Filename": f"{index}.jpg"},
                    )
                except httpx.HTTPError as exc:
                    errors.append(f"upload {index}: {type(exc).__name__}: {exc}")
                    continue
                if not response.is_success:
                    errors.append(f"upload {index}: {response.status_code} {response.text[:200]}")
                    continue
                mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    tally.seconds += time.perf_counter() - began
    tally.latencies_s.extend(latencies)
    tally.uploads += len(latencies)
    tally.errors.extend(errors)


def run(args: argparse.Namespace) -> dict[str, Any]:
    jpeg = photo_jpeg(args.kib)
    images = distinct_copies(jpeg, args.warmup + args.uploads)
    warmup, measured = images[: args.warmup], images[args.warmup :]
    chosen = configs(args)
    tallies = {config.name: Tally() for config in chosen}
    load_before = os.getloadavg()[0]
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        for config in chosen:
            servers[config.name] = stack.enter_context(config.start())
            print(f"{config.name}: pid {servers[config.name].process.pid}", file=sys.stderr)
        for server in servers.values():
            post_all(server.base_url, warmup, args.concurrency, Tally())
        per_round = -(-len(measured) // args.rounds)
        for number in range(args.rounds):
            block = measured[number * per_round : (number + 1) * per_round]
            names = list(servers)
            order = names[number % len(names) :] + names[: number % len(names)]
            for name in order:
                pid = servers[name].process.pid
                cpu_before = cpu_seconds(pid) or 0.0
                post_all(servers[name].base_url, block, args.concurrency, tallies[name])
                tallies[name].cpu_seconds += (cpu_seconds(pid) or 0.0) - cpu_before
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
    return build_report(args, jpeg, tallies, load_before)


# -- report ----------------------------------------------------------------------------------


def summary(tally: Tally) -> dict[str, Any]:
    latencies_ms = sorted(value * 1000 for value in tally.latencies_s)
    return {
        "uploads": tally.uploads,
        "failures": len(tally.errors),
        "uploads_per_s": round(tally.uploads / tally.seconds, 1) if tally.seconds else None,
        "latency_ms": {
            "p50": round(percentile(latencies_ms, 0.50), 1),
            "p95": round(percentile(latencies_ms, 0.95), 1),
            "p99": round(percentile(latencies_ms, 0.99), 1),
        },
        "server_cpu_ms_per_upload": (
            round(tally.cpu_seconds * 1000 / tally.uploads, 2) if tally.uploads else None
        ),
        "first_errors": tally.errors[:3],
    }


def build_report(
    args: argparse.Namespace, jpeg: bytes, tallies: dict[str, Tally], load_before: float
) -> dict[str, Any]:
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height = image.size
    results = {name: summary(tally) for name, tally in tallies.items()}
    baseline = results.get("decode", {}).get("uploads_per_s")
    ratios = {
        name: round(result["uploads_per_s"] / baseline, 3)
        for name, result in results.items()
        if name.startswith("sightline") and baseline and result["uploads_per_s"]
    }
    return {
        "uploads": args.uploads,
        "image": f"{width}x{height} JPEG, {len(jpeg) / KIB:.0f} KiB",
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "configs": results,
        "ratio_to_decode": ratios,
        "goals": {"ratio_to_decode": RATIO_GOAL, "p99_ms_below": P99_GOAL_MS},
    }


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"{report['uploads']} uploads of a {report['image']} per configuration, "
        f"{report['concurrency']} client threads, {report['rounds']} rounds, "
        f"{report['cpus']} CPUs (load {report['load_average_1m']['before']} before, "
        f"{report['load_average_1m']['after']} after)",
        "",
    ]
    header = ("configuration", "uploads/s", "p50 ms", "p95 ms", "p99 ms", "CPU ms/upload", "fail")
    rows = [header]
    for name, result in report["configs"].items():
        latency = result["latency_ms"]
        rows.append(
            (
                name,
                str(result["uploads_per_s"]),
                str(latency["p50"]),
                str(latency["p95"]),
                str(latency["p99"]),
                str(result["server_cpu_ms_per_upload"]),
                str(result["failures"]),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines.append("")
    goals = report["goals"]
    for name, ratio in report["ratio_to_decode"].items():
        p99 = report["configs"][name]["latency_ms"]["p99"]
        lines.append(
            f"{name}: {ratio:.2f}x the decode baseline (goal >= {goals['ratio_to_decode']}), "
            f"p99 {p99} ms (goal < {goals['p99_ms_below']:.0f} ms)"
        )
    for name, result in report["configs"].items():
        lines += [f"{name} error: {error}" for error in result["first_errors"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.port, args.folder)
        return 0
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; servers stopped and data removed", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 1 if any(result["failures"] for result in report["configs"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
