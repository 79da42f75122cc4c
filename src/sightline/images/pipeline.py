"""Run analyzers on one picture and turn their output into storable feature outcomes.

Shared by the workers and by `sightline analyze`, which differ only in what happens to the
artifacts (thumbnails): stored as blobs, or only described in the results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Protocol

from sightline.collection import collection_name
from sightline.errors import ConfigurationError, InvalidCollection, InvalidFeature, SkipFeature
from sightline.settings import Settings
from sightline.storage.change_marks import ChangeMark
from sightline.storage.records import FeatureState, FeatureStatus
from sightline.vision.base import JSON, Analysis, Analyzer, Artifact, Inputs, Picture

log = logging.getLogger(__name__)

# The biometric feature a collection opts into (SIGHTLINE_FACE_COLLECTIONS).
FACE_EMBEDDING = "face_embedding"
# Given an artifact and its role ("thumbnail:sizes.256"), store it (blobs are addressed by their
# sha256, which the result already names).
ArtifactSink = Callable[[Artifact, str], None]


@dataclass(frozen=True)
class RunOnUpload:
    """Features every upload to a collection gets beyond the configured defaults, and the mark
    they were read under (`storage.change_marks`): an upload relying on a kept copy of them is
    written only while that mark holds."""

    features: list[str]
    mark: ChangeMark


class Features(Protocol):
    """The analyzers images may be analysed with: the bundled ones, the same in every
    collection, and those of one collection only (its custom classifiers, `custom:NAME`)."""

    @property
    def bundled(self) -> Mapping[str, Analyzer]: ...

    def of(self, collection: str) -> Mapping[str, Analyzer]:
        """Every analyzer the images of this collection may use, by feature name."""

    def run_on_upload(self, collection: str) -> RunOnUpload:
        """What every upload to this collection gets beyond the configured defaults, read now."""

    def kept_run_on_upload(self, collection: str) -> RunOnUpload:
        """`run_on_upload` as this process last read it: current only while its mark holds."""


@dataclass(frozen=True)
class FeatureRun:
    state: FeatureState
    seconds: float
    artifacts: dict[str, str] = field(default_factory=dict)  # role -> sha256
    analysis: Analysis | None = None  # what the analyzer returned, when it finished


def error_info(code: str, message: str) -> JSON:
    return {"code": code, "message": message}


def resolve_features(
    requested: Sequence[str] | None, analyzers: Mapping[str, Analyzer], default: Sequence[str]
) -> list[str]:
    """The named features, deduplicated, in order; unnamed, the default set."""
    if requested is None:
        return list(default)
    names = list(dict.fromkeys(name.strip() for name in requested if name.strip()))
    unknown = [name for name in names if name not in analyzers]
    if unknown:
        raise InvalidFeature(
            f"Unknown feature(s): {', '.join(unknown)}. Available: {', '.join(analyzers)}.",
            available=list(analyzers),
        )
    return names


def default_features(settings: Settings, analyzers: Mapping[str, Analyzer]) -> list[str]:
    """The configured default set, checked once at start-up: a typo there is a configuration
    error, not a feature silently skipped on every image."""
    names = [name.strip() for name in settings.default_features.split(",") if name.strip()]
    try:
        return resolve_features(names, analyzers, names)
    except InvalidFeature as exc:
        raise ConfigurationError(f"SIGHTLINE_DEFAULT_FEATURES: {exc.message}") from exc


def face_collections(settings: Settings) -> frozenset[str]:
    """The collections of SIGHTLINE_FACE_COLLECTIONS, checked at start-up like the defaults."""
    names = [name.strip() for name in settings.face_collections.split(",") if name.strip()]
    try:
        return frozenset(collection_name(name) for name in names)
    except InvalidCollection as exc:
        raise ConfigurationError(f"SIGHTLINE_FACE_COLLECTIONS: {exc.message}") from exc


def opt_in_features(collections: Set[str], analyzers: Mapping[str, Analyzer]) -> list[str]:
    """What the default set of an opted-in collection adds: `face_embedding` and the features it
    reads, named so that their results are kept too (a dependency left unnamed is computed for
    its dependents only). Nothing when no collection opted in; an opt-in that could never be
    honoured is a configuration error."""
    if not collections:
        return []
    analyzer = analyzers.get(FACE_EMBEDDING)
    if analyzer is None:
        raise ConfigurationError(
            f"SIGHTLINE_FACE_COLLECTIONS: no {FACE_EMBEDDING!r} analyzer is installed."
        )
    return [*analyzer.depends_on, FACE_EMBEDDING]


def run_feature(
    feature: str,
    analyzer: Analyzer | None,
    picture: Picture,
    sink: ArtifactSink,
    inputs: Inputs | None = None,
) -> FeatureRun:
    """One feature, given the analyses of the features it depends on or reuses. An analyzer
    crash fails this feature for this picture only; a failure to store its artifacts is the
    job's and propagates, so the job is retried."""
    if analyzer is None:
        reason = {"reason": f"No analyzer for {feature!r} is installed in this worker."}
        return FeatureRun(FeatureState(feature, FeatureStatus.SKIPPED, "", "", reason), 0.0)
    started = time.perf_counter()
    name, version = analyzer.name, analyzer.version
    try:
        analysis = analyzer.analyze(picture, inputs or {})
    except SkipFeature as skip:
        skipped = FeatureState(
            feature, FeatureStatus.SKIPPED, name, version, {"reason": skip.reason}
        )
        return FeatureRun(skipped, time.perf_counter() - started)
    except Exception as exc:  # an analyzer bug must not take the other features down
        log.exception("Analyzer %s failed on %s", name, picture.sha256)
        error = error_info("AnalyzerError", f"{type(exc).__name__}: {exc}")
        failed = FeatureState(feature, FeatureStatus.FAILED, name, version, None, error)
        return FeatureRun(failed, time.perf_counter() - started)
    artifacts = {}
    for path, artifact in analysis.artifacts.items():
        role = f"{feature}:{path}"
        sink(artifact, role)
        artifacts[role] = artifact.sha256
    result = analysis.result.model_dump(mode="json")
    done = FeatureState(feature, FeatureStatus.DONE, name, version, result)
    return FeatureRun(done, time.perf_counter() - started, artifacts, analysis)


def run_features(
    picture: Picture,
    features: Sequence[str],
    analyzers: Mapping[str, Analyzer],
    sink: ArtifactSink,
    stored: Inputs | None = None,
) -> list[FeatureRun]:
    """The requested features, each after those it depends on or reuses, in request order
    otherwise. A dependency the request did not name is computed for its dependents only; a
    feature whose dependency ended without an analysis ends the same way. A reused feature the
    job does not compute is taken from `stored` (the image's current results) when there, so
    that reprocessing `tags` alone keeps the words it reads from `faces` or `read`. Runs come
    back in the registry's order, as features are listed everywhere else."""
    finished: dict[str, FeatureRun] = {}
    for name in execution_order(features, analyzers):
        analyzer = analyzers.get(name)
        if analyzer is None:
            finished[name] = run_feature(name, None, picture, sink)
            continue
        unmet = [finished[d] for d in analyzer.depends_on if finished[d].analysis is None]
        if unmet:
            finished[name] = _ended_like(name, analyzer, unmet[0])
            continue
        inputs = {
            other: analysis
            for other in (*analyzer.depends_on, *analyzer.reuses)
            if other in finished and (analysis := finished[other].analysis) is not None
        }
        for other in analyzer.reuses:
            if other not in finished and stored and other in stored:
                inputs[other] = stored[other]
        finished[name] = run_feature(name, analyzer, picture, sink, inputs)
    rank = {name: index for index, name in enumerate(analyzers)}
    requested = sorted(dict.fromkeys(features), key=lambda name: rank.get(name, len(rank)))
    return [finished[name] for name in requested]


def execution_order(features: Sequence[str], analyzers: Mapping[str, Analyzer]) -> list[str]:
    """`features` and their dependencies, each after what it depends on or reuses (reused
    features only when requested), in request order otherwise."""
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"Features depend on each other: {' -> '.join([*visiting, name])}.")
        visiting.append(name)
        analyzer = analyzers.get(name)
        if analyzer is not None:
            for dependency in analyzer.depends_on:
                visit(dependency)
            for reused in analyzer.reuses:
                if reused in features:
                    visit(reused)
        visiting.pop()
        order.append(name)

    for name in features:
        visit(name)
    return order


def _ended_like(feature: str, analyzer: Analyzer, dependency: FeatureRun) -> FeatureRun:
    """A feature that cannot run because its dependency ended without an analysis: skipped
    for the same reason, or failed with the same error."""
    source = dependency.state
    state = FeatureState(
        feature, source.status, analyzer.name, analyzer.version, source.result, source.error
    )
    return FeatureRun(state, 0.0)


def analyze_once(
    picture: Picture, features: Sequence[str], analyzers: Mapping[str, Analyzer]
) -> JSON:
    """Results inline, nothing stored: artifacts are described by their checksum only."""
    runs = run_features(picture, features, analyzers, lambda _artifact, _role: None)
    return {
        run.state.feature: {
            "status": str(run.state.status),
            "analyzer": run.state.analyzer,
            "version": run.state.version,
            "seconds": round(run.seconds, 4),
            "result": run.state.result,
            "error": run.state.error,
        }
        for run in runs
    }
