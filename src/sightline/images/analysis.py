"""The analysis job: run the features a job names on the image it names, and store the
outcome with its artifacts (thumbnails) and index entries."""

from __future__ import annotations

from sightline.blobs import BlobStore, StoreKeeper
from sightline.errors import SightlineError
from sightline.events import derived_event_id
from sightline.images.pipeline import Features, error_info, run_features
from sightline.images.store import ImageStore
from sightline.metrics import Metrics
from sightline.queue import Job
from sightline.settings import Settings
from sightline.storage.records import TERMINAL_FEATURE_STATES, BlobRef, FeatureState, FeatureStatus
from sightline.vision import Artifact, decode


class Analyst:
    """Runs one analysis job: the features it names, on the image it names."""

    def __init__(
        self,
        settings: Settings,
        images: ImageStore,
        blobs: BlobStore,
        features: Features,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.images = images
        self.blobs = blobs
        self.features = features
        self.metrics = metrics

    def process(self, job: Job) -> None:
        image_id: str = job.payload["image_id"]
        record = self.images.start_features(image_id, job.payload["features"])
        if record is None:
            return  # deleted since the upload: nothing left to analyse
        features = [name for name in job.payload["features"] if name in record.features]
        with self.blobs.open(record.sha256) as blob:
            data = blob.read()
        artifacts: dict[str, bytes] = {}

        def store(artifact: Artifact, _role: str) -> None:
            self.blobs.put(artifact.data)
            artifacts[artifact.sha256] = artifact.data

        phash: str | None = None
        try:
            picture = decode(data, max_bytes=len(data), max_pixels=self.settings.max_pixels)
        except SightlineError as exc:
            # Accepted at upload, refused now (a lowered limit): every feature fails the same.
            error = error_info(exc.code, exc.message)
            outcomes = [
                FeatureState(name, FeatureStatus.FAILED, state.analyzer, state.version, None, error)
                for name, state in record.features.items()
                if name in features
            ]
            refs: list[BlobRef] = []
        else:
            # The image's collection's analyzers: `custom:NAME` is its collection's classifier.
            analyzers = self.features.of(record.collection)
            runs = run_features(picture, features, analyzers, store)
            outcomes = [run.state for run in runs]
            refs = [BlobRef(sha, role) for run in runs for role, sha in run.artifacts.items()]
            for run in runs:
                self.metrics.feature_seconds.labels(run.state.feature).observe(run.seconds)
            # The near-duplicate index takes the hash a result declares (the `hash` feature's).
            declared = [run.analysis.result.index_entries() for run in runs if run.analysis]
            phash = next((entries.phash for entries in declared if entries.phash), None)
        for outcome in outcomes:
            if outcome.status is FeatureStatus.FAILED:
                self.metrics.feature_failures.labels(outcome.feature).inc()
        self.images.finish_features(
            image_id,
            outcomes,
            refs,
            StoreKeeper(self.blobs, artifacts),
            derived_event_id(job.id, "finished"),
            phash=phash,
        )

    def give_up(self, job: Job, error: str) -> None:
        """The job is dead-lettered: its unfinished features fail with the last error."""
        record = self.images.get_image(job.payload["image_id"])
        if record is None:
            return
        failure = error_info("JobFailed", error)
        outcomes = [
            FeatureState(name, FeatureStatus.FAILED, state.analyzer, state.version, None, failure)
            for name, state in record.features.items()
            if name in job.payload["features"] and state.status not in TERMINAL_FEATURE_STATES
        ]
        self.images.finish_features(
            record.id, outcomes, [], StoreKeeper(self.blobs), derived_event_id(job.id, "dead")
        )
