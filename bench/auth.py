"""Access-control cost per request: `GET /v1/features` (a route that reads no database) on an
embedded server, open, with a key from SIGHTLINE_API_KEYS, with a stored key (one indexed read
of the catalog), and with a browser session of a stored key (two reads); plus an image's
original through a signed link against the same with a stored key. Prints p50/p95 latency and
requests/s per way, sequential requests on one kept-alive connection. Then the checks alone,
called in a loop on the same SQLite catalog (steadier than HTTP on a busy machine): median
microseconds per call.

    .venv/bin/python bench/auth.py              # 2000 requests per way
    .venv/bin/python bench/auth.py -n 500 --json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from PIL import Image

from sightline.app import Sightline
from sightline.settings import Settings

ENV_KEY = "bench-environment-key"


@contextmanager
def served(settings: Settings) -> Iterator[tuple[str, Sightline]]:
    app = Sightline(settings)
    config = uvicorn.Config(
        app.api(run_workers=True), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.close()


def timed(client: httpx.Client, url: str, n: int, **kwargs: Any) -> dict[str, float]:
    for _ in range(20):  # warm up
        client.get(url, **kwargs).raise_for_status()
    latencies = []
    start = time.perf_counter()
    for _ in range(n):
        before = time.perf_counter()
        client.get(url, **kwargs).raise_for_status()
        latencies.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=20)
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(cuts[18] * 1000, 2),
        "requests_per_s": round(n / elapsed, 1),
    }


def per_call(check: Callable[[], object], n: int) -> float:
    """Median microseconds of `check`, over `n` calls in batches of 100."""
    rounds = []
    for _ in range(max(1, n // 100)):
        start = time.perf_counter()
        for _ in range(100):
            check()
        rounds.append((time.perf_counter() - start) / 100)
    return round(statistics.median(rounds) * 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per way")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(picture, "JPEG")
    results: dict[str, dict[str, float]] = {}
    base: dict[str, Any] = {"workers": 1, "default_features": "metadata"}
    with tempfile.TemporaryDirectory() as folder:
        with served(Settings(data_dir=Path(folder) / "open", **base)) as (url, _app):
            with httpx.Client(base_url=url) as client:
                results["open"] = timed(client, "/v1/features", args.n)
        settings = Settings(data_dir=Path(folder) / "keys", api_keys=ENV_KEY, **base)
        with served(settings) as (url, app), httpx.Client(base_url=url, timeout=30) as client:
            stored = app.keys.create("bench", "write").secret
            results["environment key"] = timed(
                client, "/v1/features", args.n, headers={"X-API-Key": ENV_KEY}
            )
            results["stored key"] = timed(
                client, "/v1/features", args.n, headers={"X-API-Key": stored}
            )
            signed_in = client.post("/ui/session", json={"api_key": stored})
            session = {"sightline_session": signed_in.cookies["sightline_session"]}
            client.cookies.clear()
            results["session cookie"] = timed(client, "/v1/features", args.n, cookies=session)
            image = client.post(
                "/v1/images",
                content=picture.getvalue(),
                headers={"Content-Type": "image/jpeg", "X-API-Key": stored},
            ).json()["images"][0]["id"]
            content = f"/v1/images/{image}/content"
            results["original, stored key"] = timed(
                client, content, args.n, headers={"X-API-Key": stored}
            )
            link = client.get(f"/v1/images/{image}/links", headers={"X-API-Key": stored}).json()[
                "content"
            ]
            results["original, signed link"] = timed(client, link, args.n)
            token = session["sightline_session"]
            signer = app.keys.link_signer()
            signature = signer.sign(image, "content", 2_000_000_000)
            calls = {
                "environment key": per_call(lambda: app.keys.authenticate(ENV_KEY), args.n),
                "stored key": per_call(lambda: app.keys.authenticate(stored), args.n),
                "session cookie": per_call(lambda: app.keys.session_principal(token), args.n),
                "signed link": per_call(
                    lambda: signer.verify(image, "content", "2000000000", signature, 0), args.n
                ),
            }
    if args.json:
        print(json.dumps({"load_1m": os.getloadavg()[0], "results": results, "calls_us": calls}))
        return
    print(f"{args.n} sequential requests per way; 1-minute load {os.getloadavg()[0]:.1f}")
    for way, figures in results.items():
        print(
            f"  {way:24} p50 {figures['p50_ms']:6.2f} ms  p95 {figures['p95_ms']:6.2f} ms  "
            f"{figures['requests_per_s']:7.1f} requests/s"
        )
    print("The check alone, median per call:")
    for way, microseconds in calls.items():
        print(f"  {way:24} {microseconds:8.1f} µs")


if __name__ == "__main__":
    main()
