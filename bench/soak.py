"""Soak: mixed traffic from a few clients against a fresh `sightline serve` for minutes.

The traffic is the test suite's (`tests/support/soak.py`, which tests/api/test_soak.py runs for
one minute): uploads (single and batches), reads, lists, searches, thumbnails, originals with and
without ranges, deletes, inline analyses, hostile files and bad requests. Prints the server's
resident memory once per interval while it runs, then the latency per route (p50/p99), the
errors (5xx, or any status a route does not document) and whether every accepted upload was
analysed.

    .venv/bin/python bench/soak.py                      # 10 minutes, 4 clients
    .venv/bin/python bench/soak.py --minutes 2 --clients 8 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from procstatus import status_kib
from upload import percentile, positive_int

# The traffic and the server start are the test suite's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.soak import FEATURES, MAX_PIXELS, Traffic, live_server, wait_analysed  # noqa: E402


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Soak a fresh `sightline serve` with mixed traffic; RSS, latency, errors.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the clients run")
    parser.add_argument("--clients", type=positive_int, default=4, help="concurrent clients")
    parser.add_argument(
        "--think-ms", type=float, default=20.0, help="mean pause between a client's requests"
    )
    parser.add_argument("--workers", type=positive_int, default=2, help="`serve --workers`")
    parser.add_argument(
        "--features", default=FEATURES, help="the server's SIGHTLINE_DEFAULT_FEATURES"
    )
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between RSS lines")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clients' choices")
    parser.add_argument(
        "--drain-timeout", type=float, default=600.0, help="seconds to wait for analysis after"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.interval <= 0:
        parser.error("--minutes and --interval must be positive")
    return args


def mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sightline-soak-") as folder:
        with live_server(Path(folder), workers=args.workers, features=args.features) as server:
            pid = server.process.pid
            traffic = Traffic(
                server.url, clients=args.clients, think_seconds=args.think_ms / 1000, seed=args.seed
            )
            started = time.monotonic()
            timeline: list[dict[str, Any]] = []
            print(
                f"server pid {pid}, {args.clients} clients for {args.minutes:g} min "
                f"(features {args.features}, max {MAX_PIXELS} pixels)",
                file=sys.stderr,
            )
            print(f"{'s':>6} {'RSS MiB':>8} {'requests':>9} {'req/s':>6} {'errors':>6}")

            def tick() -> None:
                elapsed = time.monotonic() - started
                calls = len(traffic.calls)
                previous = timeline[-1] if timeline else {"seconds": 0.0, "requests": 0}
                rate = (calls - previous["requests"]) / max(elapsed - previous["seconds"], 1e-9)
                point = {
                    "seconds": round(elapsed, 1),
                    "rss_mib": mib(status_kib(pid, "VmRSS")),
                    "requests": calls,
                    "errors": len(traffic.surprises),
                }
                timeline.append(point)
                print(
                    f"{elapsed:6.0f} {point['rss_mib']:>8} {calls:>9} {rate:>6.1f} "
                    f"{point['errors']:>6}",
                    flush=True,
                )

            traffic.run(args.minutes * 60, tick=tick, every=args.interval)
            soak_seconds = time.monotonic() - started
            kept = traffic.kept()
            statuses = wait_analysed(server.url, kept, timeout=args.drain_timeout)
            drained = time.monotonic() - started - soak_seconds
            peak = mib(status_kib(pid, "VmHWM"))
            alive = server.process.poll() is None
    return build_report(args, traffic, timeline, statuses, soak_seconds, drained, peak, alive)


def build_report(
    args: argparse.Namespace,
    traffic: Traffic,
    timeline: list[dict[str, Any]],
    statuses: dict[str, str],
    soak_seconds: float,
    drain_seconds: float,
    peak_mib: float | None,
    alive: bool,
) -> dict[str, Any]:
    routes = {}
    for route, calls in sorted(traffic.by_route().items()):
        latencies = sorted(call.seconds * 1000 for call in calls)
        routes[route] = {
            "requests": len(calls),
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
        }
    not_done: dict[str, int] = {}
    for status in statuses.values():
        if status != "done":
            not_done[status] = not_done.get(status, 0) + 1
    rss = [point["rss_mib"] for point in timeline if point["rss_mib"] is not None]
    return {
        "minutes": args.minutes,
        "clients": args.clients,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "requests": len(traffic.calls),
        "requests_per_s": round(len(traffic.calls) / soak_seconds, 1),
        "errors": len(traffic.surprises),
        "server_errors": len(traffic.errors()),
        "first_errors": [vars(surprise) for surprise in traffic.surprises[:5]],
        "accepted_uploads": len(traffic.accepted),
        "deleted": len(traffic.deleted),
        "analysed": sum(1 for status in statuses.values() if status == "done"),
        "not_analysed": not_done,
        "drain_seconds": round(drain_seconds, 1),
        "rss_mib": {
            "first": rss[0] if rss else None,
            "last": rss[-1] if rss else None,
            "min": min(rss, default=None),
            "max": max(rss, default=None),
        },
        "peak_rss_mib": peak_mib,
        "server_alive": alive,
        "routes": routes,
        "timeline": timeline,
    }


def format_report(report: dict[str, Any]) -> str:
    rss = report["rss_mib"]
    lines = [
        f"requests       {report['requests']} in {report['minutes']:g} min "
        f"({report['requests_per_s']}/s, {report['clients']} clients, "
        f"{report['workers']} workers, {report['cpus']} CPUs)",
        f"errors         {report['errors']} ({report['server_errors']} 5xx)",
        f"uploads        {report['accepted_uploads']} accepted, {report['deleted']} deleted, "
        f"{report['analysed']} analysed, not analysed: {report['not_analysed'] or 'none'} "
        f"(drained in {report['drain_seconds']} s)",
        f"server RSS     first {rss['first']} MiB, last {rss['last']}, min {rss['min']}, "
        f"max {rss['max']}; peak (VmHWM) {report['peak_rss_mib']} MiB",
        "",
        f"{'route':<34} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8}",
    ]
    for route, figures in report["routes"].items():
        lines.append(
            f"{route:<34} {figures['requests']:>8} {figures['p50_ms']:>8} {figures['p99_ms']:>8}"
        )
    lines += [f"error: {error}" for error in report["first_errors"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; server stopped and data removed", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    failed = report["errors"] or report["not_analysed"] or not report["server_alive"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
