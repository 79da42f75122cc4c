"""Upload benchmark: start `sightline serve`, upload N images concurrently, wait for analysis.

Measures upload latency and throughput, time until every image is analysed, and the server's
peak resident memory. Images are generated in memory before the clock starts.

    .venv/bin/python bench/upload.py -n 1000 --concurrency 8 --workers 2
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from procstatus import status_kib
from sightline.client import ApiError, Client

MB = 1_000_000

STOP_TIMEOUT_S = 15.0
LOG_TAIL_LINES = 40
IMAGE_GAUGE = re.compile(r'^sightline_images\{status="(\w+)"\}\s+([0-9.eE+-]+)$', re.MULTILINE)


# -- arguments -------------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 640x480, not {text!r}") from exc
    if width < 8 or height < 8:
        raise argparse.ArgumentTypeError("width and height must be at least 8")
    return width, height


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_source(text: str) -> tuple[str, Path]:
    """`LABEL=PATH` of `--sightline-src`: another source tree's folder holding `sightline`."""
    label, equals, path = text.partition("=")
    if not equals or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH, not {text!r}")
    folder = Path(path).resolve()
    if not (folder / "sightline" / "__init__.py").exists():
        raise argparse.ArgumentTypeError(f"{folder} holds no sightline package")
    return label, folder


def source_env(source: Path | None) -> dict[str, str]:
    """The environment that runs `sightline` from `source` (first on PYTHONPATH), or from
    this checkout (None)."""
    if source is None:
        return {}
    return {"PYTHONPATH": os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")])}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark uploads and analysis against a fresh local `sightline serve`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-n", "--images", type=positive_int, default=1000, help="images to upload")
    parser.add_argument(
        "--size", type=parse_size, default="640x480", metavar="WxH", help="image size in pixels"
    )
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality")
    parser.add_argument(
        "--concurrency", type=positive_int, default=8, help="concurrent upload threads"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="analysis worker threads (`serve --workers`)"
    )
    parser.add_argument(
        "--features",
        default="metadata,color,hash,thumbnail",
        help="features each upload gets (the server's SIGHTLINE_DEFAULT_FEATURES); the default "
        "is the model-free set, which measures the pipeline itself",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the image generator")
    parser.add_argument(
        "--poll-interval", type=float, default=0.25, help="seconds between progress polls"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="give up waiting for analysis after this"
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="seconds to wait for /healthz"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--server-log",
        type=Path,
        default=None,
        help="keep the server's output in this file; if unset, a temporary file is used",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1: the benchmark waits for analysis")
    return args


# -- images ----------------------------------------------------------------------------------


def smooth_image(rng: np.random.Generator, size: tuple[int, int], quality: int) -> bytes:
    """A JPEG of a random low-frequency colour field with a little grain: distinct and photo-ish."""
    width, height = size
    grid = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    picture = Image.fromarray(grid, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(picture, dtype=np.int16)
    grain = rng.integers(-6, 7, size=pixels.shape, dtype=np.int16)
    noisy = np.clip(pixels + grain, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(noisy, "RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def generate_images(count: int, size: tuple[int, int], quality: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    images = [smooth_image(rng, size, quality) for _ in range(count)]
    if len(set(images)) != len(images):
        raise RuntimeError("generated images are not all distinct; try another --seed")
    return images


# -- server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sightline_executable() -> Path:
    script = Path(sys.executable).with_name("sightline")
    if not script.exists():
        raise SystemExit(f"{script} not found: install the package in this environment first")
    return script


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path


def wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited with code {server.process.returncode}")
            try:
                if http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"server not healthy after {timeout:.0f}s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    began = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"server ignored SIGTERM for {STOP_TIMEOUT_S:.0f}s; killing it", file=sys.stderr)
        process.kill()
        code = process.wait()
    elapsed = time.perf_counter() - began
    print(f"server stopped in {elapsed:.2f}s with exit code {code}", file=sys.stderr)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@contextmanager
def running_server(
    workers: int,
    features: str,
    startup_timeout: float,
    log_file: Path | None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """A `sightline serve` on a free loopback port and a fresh data dir, always cleaned up;
    `env` adds to (or overrides) this process's environment, e.g. PYTHONPATH for another tree."""
    data_dir = Path(tempfile.mkdtemp(prefix="sightline-bench-"))
    log_path = log_file or data_dir / "server.log"
    port = free_port()
    command = [
        str(sightline_executable()),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir / "data"),
        "--workers",
        str(workers),
    ]
    environment = {**os.environ, "SIGHTLINE_DEFAULT_FEATURES": features, **(env or {})}
    with supervised(command, port, data_dir, log_path, startup_timeout, environment) as server:
        yield server


@contextmanager
def supervised(
    command: Sequence[str],
    port: int,
    folder: Path,
    log_path: Path,
    startup_timeout: float,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Runs `command` (a server on `port`) until healthy, and always stops it and removes
    `folder` after; its log's last lines are printed if anything fails meanwhile."""
    process: subprocess.Popen[bytes] | None = None
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        try:
            wait_healthy(server, startup_timeout)
            yield server
        except BaseException:
            print(f"--- last lines of the server log ({log_path}) ---", file=sys.stderr)
            print(log_tail(log_path), file=sys.stderr)
            raise
    finally:
        if process is not None:
            stop_server(process)
        shutil.rmtree(folder, ignore_errors=True)


# -- memory ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of `pid` so far, from /proc/PID/stat (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """Every descendant of `pid`, from /proc/PID/task/*/children (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found.append(child)
            found.extend(child_pids(child))
    return found


@dataclass
class MemoryProbe:
    """Peak RSS of the server (VmHWM) and the largest VmHWM seen for each of its children."""

    pid: int
    children_peak_kib: dict[int, int] = field(default_factory=dict)

    def sample_children(self) -> None:
        for child in child_pids(self.pid):
            peak = status_kib(child, "VmHWM")
            if peak is not None:
                self.children_peak_kib[child] = max(peak, self.children_peak_kib.get(child, 0))

    def server_peak_kib(self) -> int | None:
        return status_kib(self.pid, "VmHWM")

    def server_cpu_seconds(self) -> float | None:
        return cpu_seconds(self.pid)


# -- uploads ---------------------------------------------------------------------------------


@dataclass
class UploadRun:
    latencies_s: list[float] = field(default_factory=list)
    uploaded_bytes: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


def upload_worker(
    base_url: str,
    images: Sequence[bytes],
    next_index: Iterator[int],
    lock: threading.Lock,
    start: threading.Barrier,
    run: UploadRun,
) -> None:
    latencies: list[float] = []
    sent = 0
    errors: list[str] = []
    with Client(base_url, timeout=120.0) as client:
        start.wait()
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            began = time.perf_counter()
            try:
                client.upload(
                    images[index], filename=f"bench-{index}.jpg", content_type="image/jpeg"
                )
            except (ApiError, httpx.HTTPError) as exc:
                errors.append(f"image {index}: {type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - began)
            sent += len(images[index])
    with lock:
        run.latencies_s.extend(latencies)
        run.uploaded_bytes += sent
        run.errors.extend(errors)


def upload_all(base_urls: Sequence[str], images: Sequence[bytes], concurrency: int) -> UploadRun:
    """`concurrency` client threads, thread i on server i mod len(base_urls), each taking the
    next image until none is left."""
    run = UploadRun()
    lock = threading.Lock()
    indexes = iter(range(len(images)))
    start = threading.Barrier(concurrency + 1)
    threads = [
        threading.Thread(
            target=upload_worker,
            args=(base_urls[number % len(base_urls)], images, indexes, lock, start, run),
            name=f"upload-{number}",
            daemon=True,
        )
        for number in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    run.started = time.perf_counter()
    for thread in threads:
        thread.join()
    run.finished = time.perf_counter()
    return run


# -- analysis --------------------------------------------------------------------------------


def image_counts(http: httpx.Client) -> dict[str, int]:
    """`sightline_images{status=...}` from /metrics: one GROUP BY on the catalog per poll."""
    response = http.get("/metrics")
    response.raise_for_status()
    return {status: int(float(value)) for status, value in IMAGE_GAUGE.findall(response.text)}


@dataclass
class AnalysisWait:
    done: int
    failed: int
    finished: float
    timed_out: bool
    polls: int
    progress: list[tuple[float, int]]  # (perf_counter, done + failed) at each poll


def wait_analysed(
    base_url: str, expected: int, interval: float, timeout: float, memory: MemoryProbe
) -> AnalysisWait:
    deadline = time.perf_counter() + timeout
    progress: list[tuple[float, int]] = []
    with httpx.Client(base_url=base_url, timeout=30.0) as http:
        while True:
            counts = image_counts(http)
            memory.sample_children()
            done, failed = counts.get("done", 0), counts.get("failed", 0)
            now = time.perf_counter()
            progress.append((now, done + failed))
            if done + failed >= expected:
                return AnalysisWait(done, failed, now, False, len(progress), progress)
            if now > deadline:
                return AnalysisWait(done, failed, now, True, len(progress), progress)
            time.sleep(interval)


# -- report ----------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] * (1 - weight) + sorted_values[upper] * weight


def rate_by_quarter(
    started: float, progress: Sequence[tuple[float, int]], expected: int
) -> list[float | None]:
    """Analysed images/s over each quarter of the images: flags slow-down as the catalog grows.

    Resolution is the poll interval, and the first quarter overlaps the upload phase.
    """
    rates: list[float | None] = []
    previous_time, previous_count = started, 0
    for quarter in range(1, 5):
        target = expected * quarter // 4
        reached = next((point for point in progress if point[1] >= target), None)
        if reached is None or target <= previous_count or reached[0] <= previous_time:
            rates.append(None)
            continue
        rates.append(round((reached[1] - previous_count) / (reached[0] - previous_time), 1))
        previous_time, previous_count = reached
    return rates


def build_report(
    args: argparse.Namespace,
    images: Sequence[bytes],
    uploads: UploadRun,
    analysis: AnalysisWait,
    server_peak_kib: int | None,
    server_cpu_s: float | None,
    memory: MemoryProbe,
    load_before: float,
) -> dict[str, Any]:
    latencies_ms = sorted(value * 1000 for value in uploads.latencies_s)
    uploaded = len(uploads.latencies_s)
    upload_s = uploads.finished - uploads.started
    total_s = analysis.finished - uploads.started
    children_kib = sum(memory.children_peak_kib.values())
    return {
        "images": len(images),
        "image_size": f"{args.size[0]}x{args.size[1]}",
        "mean_image_kib": round(sum(map(len, images)) / len(images) / 1024, 1),
        "concurrency": args.concurrency,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "uploaded": uploaded,
        "upload_failures": len(uploads.errors),
        "upload_seconds": round(upload_s, 3),
        "upload_images_per_s": round(uploaded / upload_s, 1) if upload_s else None,
        "upload_mb_per_s": round(uploads.uploaded_bytes / MB / upload_s, 2) if upload_s else None,
        "upload_latency_ms": {
            "p50": round(percentile(latencies_ms, 0.50), 1),
            "p95": round(percentile(latencies_ms, 0.95), 1),
            "p99": round(percentile(latencies_ms, 0.99), 1),
            "max": round(latencies_ms[-1], 1) if latencies_ms else None,
        },
        "analysed_done": analysis.done,
        "analysis_failed": analysis.failed,
        "analysis_timed_out": analysis.timed_out,
        "seconds_to_all_analysed": round(total_s, 3),
        "analysed_images_per_s": (
            round((analysis.done + analysis.failed) / total_s, 1) if total_s else None
        ),
        "analysed_images_per_s_by_quarter": rate_by_quarter(
            uploads.started, analysis.progress, uploaded
        ),
        "failures": len(uploads.errors) + analysis.failed,
        "server_cpu_seconds": round(server_cpu_s, 2) if server_cpu_s is not None else None,
        "server_cpu_ms_per_image": (
            round(server_cpu_s * 1000 / uploaded, 1) if server_cpu_s and uploaded else None
        ),
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "server_peak_rss_mib": round(server_peak_kib / 1024, 1) if server_peak_kib else None,
        "children_peak_rss_mib": round(children_kib / 1024, 1),
        "progress_polls": analysis.polls,
        "first_upload_errors": uploads.errors[:5],
    }


def format_report(report: dict[str, Any]) -> str:
    latency = report["upload_latency_ms"]
    rows = [
        (
            "images",
            f"{report['images']} x {report['image_size']} JPEG, "
            f"mean {report['mean_image_kib']} KiB",
        ),
        ("concurrency", f"{report['concurrency']} upload threads"),
        ("workers", f"{report['workers']} analysis threads (host has {report['cpus']} CPUs)"),
        ("uploaded", f"{report['uploaded']} in {report['upload_seconds']:.2f} s"),
        (
            "upload throughput",
            f"{report['upload_images_per_s']} images/s, {report['upload_mb_per_s']} MB/s",
        ),
        (
            "upload latency",
            f"p50 {latency['p50']} ms, p95 {latency['p95']} ms, "
            f"p99 {latency['p99']} ms, max {latency['max']} ms",
        ),
        (
            "all analysed after",
            f"{report['seconds_to_all_analysed']:.2f} s from first upload"
            + (" (TIMED OUT)" if report["analysis_timed_out"] else ""),
        ),
        (
            "analysed throughput",
            f"{report['analysed_images_per_s']} images/s "
            f"({report['analysed_done']} done, {report['analysis_failed']} failed)",
        ),
        (
            "  by quarter",
            " / ".join(str(rate) for rate in report["analysed_images_per_s_by_quarter"])
            + " images/s",
        ),
        (
            "failures",
            f"{report['failures']} ({report['upload_failures']} uploads, "
            f"{report['analysis_failed']} analyses)",
        ),
        (
            "server CPU",
            f"{report['server_cpu_seconds']} s user+sys, "
            f"{report['server_cpu_ms_per_image']} ms per image (from first upload)",
        ),
        (
            "host load (1 min)",
            f"{report['load_average_1m']['before']} before, "
            f"{report['load_average_1m']['after']} after",
        ),
        (
            "server peak RSS",
            f"{report['server_peak_rss_mib']} MiB (VmHWM)"
            + (
                f", children {report['children_peak_rss_mib']} MiB"
                if report["children_peak_rss_mib"]
                else ", no child processes"
            ),
        ),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines += [f"upload error: {error}" for error in report["first_upload_errors"]]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    print(f"generating {args.images} images ...", file=sys.stderr)
    images = generate_images(args.images, args.size, args.quality, args.seed)
    load_before = os.getloadavg()[0]
    with running_server(
        args.workers, args.features, args.startup_timeout, args.server_log
    ) as server:
        print(f"server pid {server.process.pid} at {server.base_url}; uploading", file=sys.stderr)
        memory = MemoryProbe(server.process.pid)
        cpu_at_start = memory.server_cpu_seconds() or 0.0
        uploads = upload_all([server.base_url], images, args.concurrency)
        print(
            f"uploaded in {uploads.finished - uploads.started:.2f}s; waiting for analysis",
            file=sys.stderr,
        )
        analysis = wait_analysed(
            server.base_url, len(uploads.latencies_s), args.poll_interval, args.timeout, memory
        )
        memory.sample_children()
        server_peak = memory.server_peak_kib()
        cpu_at_end = memory.server_cpu_seconds()
        server_cpu = cpu_at_end - cpu_at_start if cpu_at_end is not None else None
        return build_report(
            args, images, uploads, analysis, server_peak, server_cpu, memory, load_before
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; server stopped and data removed", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 1 if report["failures"] or report["analysis_timed_out"] else 0


if __name__ == "__main__":
    sys.exit(main())
