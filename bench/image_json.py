"""Image JSON benchmark: what `GET /v1/images/{id}` costs with and without the vectors.

Starts a fresh `sightline serve` with the server's default features, uploads one photo, waits
until it is analysed, then fetches it again and again, alternating blocks of the default answer
and `include=vectors` (so both see the same load on a shared machine). Per variant: response
bytes, client latency p50/p99 and the server's CPU milliseconds per request (user + system of
the server process over the block, from /proc).

    .venv/bin/python bench/image_json.py --requests 2000
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
from PIL import Image

from sightline.client import Client
from sightline.settings import DEFAULT_FEATURES
from upload import cpu_seconds, percentile, running_server

BEFORE_CPU_MS = "1.4-1.6"  # issue 18, measured before its changes
VARIANTS: dict[str, dict[str, str]] = {"default": {}, "include=vectors": {"include": "vectors"}}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per variant")
    parser.add_argument("--block", type=int, default=100, help="requests per alternating block")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args(argv)


def photo() -> bytes:
    """A 512x512 colour gradient: every default feature runs on it, vectors of full length."""
    ramp = np.linspace(0, 255, 512, dtype=np.uint8)
    pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[::-1, None]), -1)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def measure(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    features = ",".join(DEFAULT_FEATURES)
    with running_server(2, features, args.startup_timeout, None) as server:
        client = Client(server.base_url)
        image_id = client.upload(photo())["id"]
        assert client.wait(image_id, timeout=300)["status"] == "done"
        latencies: dict[str, list[float]] = {name: [] for name in VARIANTS}
        cpu: dict[str, float] = dict.fromkeys(VARIANTS, 0.0)
        sizes: dict[str, int] = {}
        with httpx.Client(base_url=server.base_url) as http:
            url = f"/v1/images/{image_id}"
            for params in VARIANTS.values():  # warm-up
                for _ in range(20):
                    http.get(url, params=params).raise_for_status()
            for _ in range(max(1, args.requests // args.block)):
                for name, params in VARIANTS.items():
                    before = cpu_seconds(server.process.pid) or 0.0
                    for _ in range(args.block):
                        start = time.perf_counter()
                        response = http.get(url, params=params)
                        latencies[name].append(time.perf_counter() - start)
                        response.raise_for_status()
                        sizes[name] = len(response.content)
                    cpu[name] += (cpu_seconds(server.process.pid) or 0.0) - before
        return {
            name: {
                "bytes": sizes[name],
                "p50_ms": round(percentile(sorted(values), 0.50) * 1000, 2),
                "p99_ms": round(percentile(sorted(values), 0.99) * 1000, 2),
                "server_cpu_ms_per_request": round(cpu[name] * 1000 / len(values), 2),
                "requests": len(values),
            }
            for name, values in latencies.items()
        }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    figures = measure(args)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, row in figures.items():
        print(
            f"{name:>16}: {row['bytes']:>7} bytes  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} "
            f"ms  server CPU {row['server_cpu_ms_per_request']} ms/request  "
            f"({row['requests']} requests)"
        )
    print(
        f"goal (issue 18): less server CPU than the {BEFORE_CPU_MS} ms/request it took before "
        "(the default answer of a finished image is served from the kept answers); p99 at a "
        "million images: bench/scale.py --part reads"
    )


if __name__ == "__main__":
    main()
