"""A worker process whose extra `slow` feature sleeps, so tests can kill it mid-job.

Usage: PYTHONPATH=tests python tests/support/slow_worker.py DATA_DIR SECONDS
"""

from __future__ import annotations

import sys
import time

from sightline.app import Sightline
from sightline.models import Models
from sightline.settings import Settings
from sightline.vision import Analysis, Independent, Inputs, Picture, ResultModel
from sightline.vision.registry import build_analyzers


class Slept(ResultModel):
    slept: float
    width: int


class SlowAnalyzer(Independent):
    name = "slow"
    version = "1"
    result_model = Slept

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        time.sleep(self.seconds)
        return Analysis(Slept(slept=self.seconds, width=picture.width))


def worker_settings(data_dir: str, **overrides: object) -> Settings:
    options: dict[str, object] = {
        "data_dir": data_dir,
        "workers": 1,
        "job_lease_seconds": 1.0,
        "poll_interval_seconds": 0.02,
        "job_backoff_seconds": 0.05,
        "default_features": "metadata,color,hash,thumbnail",
    }
    options.update(overrides)
    return Settings(**options)  # type: ignore[arg-type]


def with_slow(seconds: float) -> dict[str, object]:
    models = Models(Settings().model_dir, threads=1, idle_seconds=0)
    return {**build_analyzers(models), "slow": SlowAnalyzer(seconds)}


if __name__ == "__main__":
    app = Sightline(worker_settings(sys.argv[1]), analyzers=with_slow(float(sys.argv[2])))  # type: ignore[arg-type]
    app.pool.start()
    while True:
        time.sleep(1)
