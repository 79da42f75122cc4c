"""Prometheus metrics, in a registry of the application's own (no process-wide globals).

Counters and histograms count what this process did: job figures come from the processes that
run workers, so scrape the workers (`sightline worker --http-port`), not only the API. Gauges
are read at scrape time from where the truth is (the queue, the catalog), so every process
shows the same figures, and a queue that lost its data shows what it holds now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

K = TypeVar("K")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _GaugeCollector(Collector):
    """A labelled gauge read at scrape time, e.g. queue depth from the queue itself."""

    def __init__(
        self, name: str, documentation: str, label: str, read: Callable[[], Mapping[Any, int]]
    ) -> None:
        self.name, self.documentation, self.label, self.read = name, documentation, label, read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        try:
            counts = self.read()
        except Exception as exc:
            # Its source is down (`sightline_component_up` says which): the other metrics are
            # still worth scraping, so this gauge is left out of this scrape only.
            log.warning("Metric %s left out of this scrape: %s", self.name, exc)
            counts = {}
        for value, count in counts.items():
            family.add_metric([str(value)], count)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            "sightline_uploads",
            "Images accepted by the API, by outcome (new or duplicate bytes).",
            ["outcome"],
            registry=self.registry,
        )
        self.upload_bytes = Counter(
            "sightline_upload_bytes", "Bytes of accepted images.", registry=self.registry
        )
        self.rejections = Counter(
            "sightline_upload_rejections",
            "Files refused at upload, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "sightline_jobs",
            "Jobs run by this process's workers, by kind (analyze, train, backfill, reindex) "
            "and outcome (done, retried, dead).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "sightline_job_duration_seconds",
            "Wall time of one job attempt, claim to outcome, by kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lease_renewals = Counter(
            "sightline_lease_renewals",
            "Leases of running jobs renewed by this process's workers, by outcome (renewed; "
            "lost: another worker took the job over; failed: the queue did not answer).",
            ["outcome"],
            registry=self.registry,
        )
        self.feature_seconds = Histogram(
            "sightline_feature_duration_seconds",
            "Wall time of one analyzer on one image.",
            ["feature"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.feature_failures = Counter(
            "sightline_feature_failures",
            "Analyzer runs that failed, by feature.",
            ["feature"],
            registry=self.registry,
        )

        self.webhook_requests = Counter(
            "sightline_webhook_requests",
            "Webhook requests sent by this process, by outcome (delivered, retrying, "
            "dead_lettered).",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "sightline_webhook_request_duration_seconds",
            "Time from sending a webhook request to its answer (or to giving up on it).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch(
        self, name: str, documentation: str, label: str, read: Callable[[], Mapping[K, int]]
    ) -> None:
        self.registry.register(_GaugeCollector(name, documentation, label, read))

    def upload_accepted(self, size: int, *, duplicate: bool) -> None:
        self.uploads.labels("duplicate" if duplicate else "new").inc()
        self.upload_bytes.inc(size)

    def upload_rejected(self, code: str) -> None:
        self.rejections.labels(code).inc()

    def webhook_request(self, outcome: str, seconds: float) -> None:
        self.webhook_requests.labels(outcome).inc()
        self.webhook_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
