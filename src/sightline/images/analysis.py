"""The analysis job: run the features a job names on the image it names, and store the
outcome with its artifacts (thumbnails) and index entries."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack

from pydantic import ValidationError

from sightline.blobs import BlobStore, StoreKeeper
from sightline.errors import SightlineError
from sightline.events import derived_event_id
from sightline.images.pipeline import Features, error_info, run_features
from sightline.images.store import ImageStore
from sightline.metrics import Metrics
from sightline.queue import Job
from sightline.storage.records import TERMINAL_FEATURE_STATES, BlobRef, FeatureState, FeatureStatus
from sightline.vision import Analysis, Analyzer, Artifact, Decoder


def current_analyses(
    states: Mapping[str, FeatureState], analyzers: Mapping[str, Analyzer], exclude: Sequence[str]
) -> dict[str, Analysis]:
    """The image's finished results of its analyzers' current versions, as analyses other
    features may reuse (none of the features being recomputed)."""
    found: dict[str, Analysis] = {}
    for name, state in states.items():
        analyzer = analyzers.get(name)
        if (
            name in exclude
            or analyzer is None
            or state.status is not FeatureStatus.DONE
            or state.version != analyzer.version
            or not state.result
        ):
            continue
        try:
            found[name] = Analysis(analyzer.result_model.model_validate(state.result))
        except ValidationError:
            continue  # stored by older code under the same version: not worth trusting
    return found


class Analyst:
    """Runs one analysis job: the features it names, on the image it names."""

    def __init__(
        self,
        images: ImageStore,
        blobs: BlobStore,
        features: Features,
        metrics: Metrics,
        decoder: Decoder,
        on_analysed: Callable[[str, Sequence[FeatureState]], None] = lambda _id, _states: None,
    ) -> None:
        self.images = images
        self.blobs = blobs
        self.features = features
        self.metrics = metrics
        self.decoder = decoder
        # Told each stored analysis (image id, outcomes): what acts on results once they are
        # stored (faces are grouped).
        self.on_analysed = on_analysed

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
        with ExitStack() as held:
            try:
                # Waits while the pictures other threads hold leave too little memory.
                picture = held.enter_context(self.decoder.picture(data))
            except SightlineError as exc:
                # Accepted at upload, refused now (a lowered limit): every feature fails alike.
                error = error_info(exc.code, exc.message)
                outcomes = [
                    FeatureState(
                        name, FeatureStatus.FAILED, state.analyzer, state.version, None, error
                    )
                    for name, state in record.features.items()
                    if name in features
                ]
                refs: list[BlobRef] = []
            else:
                # The image's collection's analyzers: `custom:NAME` is its collection's.
                analyzers = self.features.of(record.collection)
                stored = current_analyses(record.features, analyzers, exclude=features)
                runs = run_features(picture, features, analyzers, store, stored)
                outcomes = [run.state for run in runs]
                refs = [BlobRef(sha, role) for run in runs for role, sha in run.artifacts.items()]
                for run in runs:
                    self.metrics.feature_seconds.labels(run.state.feature).observe(run.seconds)
                # The near-duplicate index takes the hash a result declares (`hash`'s).
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
        self.on_analysed(image_id, outcomes)

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
