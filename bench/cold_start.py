"""Cold-start benchmark: how soon a fresh `sightline serve` answers; what its first upload waits.

Each run starts `sightline serve` with the default features on a fresh data folder (the prepared
models of `SIGHTLINE_MODEL_DIR`), and times from the spawn until `/readyz` answers 200. Then one
photo is uploaded and timed until it is analysed: at once (the upload meets whatever the models
are doing then), or `--delay` seconds after readiness (a first upload that comes a little
later, when warmed models should be loaded). Each case runs `--repeat` times; medians are
printed with the issue's goals. Run it with `PYTHONPATH=OTHER_TREE/src` to measure another
checkout of the code the same way.

    .venv/bin/python bench/cold_start.py
    .venv/bin/python bench/cold_start.py --repeat 3 --delay 30 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from image_json import photo
from sightline.settings import DEFAULT_FEATURES
from upload import Server, free_port, sightline_executable, stop_server

READY_GOAL_S = 3.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each case")
    parser.add_argument(
        "--delay", type=float, default=20.0, help="seconds after readiness of the later upload"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args(argv)


def wait_ready(http: httpx.Client, server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with code {server.process.returncode}")
        try:
            if http.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError("server not ready in time")


def wait_analysed(http: httpx.Client, image_id: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if http.get(f"/v1/images/{image_id}").json()["status"] in ("done", "failed"):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{image_id} not analysed in time")


def one_run(delay: float, timeout: float) -> dict[str, float]:
    """Seconds from spawn to ready, and from the upload to analysed."""
    with tempfile.TemporaryDirectory(prefix="sightline-cold-") as folder:
        port = free_port()
        command = [str(sightline_executable()), "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--data-dir", str(Path(folder) / "data")]
        env = {"SIGHTLINE_DEFAULT_FEATURES": ",".join(DEFAULT_FEATURES)}
        log_path = Path(folder) / "server.log"
        with log_path.open("wb") as log:
            began = time.monotonic()
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
            )
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        try:
            with httpx.Client(base_url=server.base_url, timeout=timeout) as http:
                deadline = began + timeout
                wait_ready(http, server, deadline)
                ready_s = time.monotonic() - began
                time.sleep(delay)
                uploaded = time.monotonic()
                response = http.post(
                    "/v1/images", content=photo(), headers={"content-type": "image/jpeg"}
                )
                response.raise_for_status()
                wait_analysed(http, response.json()["images"][0]["id"], deadline + delay)
                return {"ready_s": ready_s, "first_analysis_s": time.monotonic() - uploaded}
        finally:
            stop_server(process)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"at once": [], f"after {args.delay:g} s": []}
    for _ in range(args.repeat):  # the cases interleaved, so both see the same load
        for name, delay in zip(runs, (0.0, args.delay), strict=True):
            runs[name].append(one_run(delay, args.timeout))
    return {
        name: {
            "ready_s": round(statistics.median(r["ready_s"] for r in rows), 2),
            "first_analysis_s": round(statistics.median(r["first_analysis_s"] for r in rows), 2),
            "runs": len(rows),
        }
        for name, rows in runs.items()
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    figures = measure(args)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"cold start: `sightline serve`, default features, medians of {args.repeat} runs")
    for name, row in figures.items():
        print(
            f"  first upload {name:>12}: ready in {row['ready_s']:.2f} s "
            f"(goal < {READY_GOAL_S:g} s), first upload analysed in "
            f"{row['first_analysis_s']:.2f} s"
        )
    print(
        "  goal: the first upload does not wait for models to load (warmed in the background "
        "from start-up): analysed in about one analysis time once warm"
    )


if __name__ == "__main__":
    main()
