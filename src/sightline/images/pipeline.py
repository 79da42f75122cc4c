"""Run analyzers on one picture and turn their output into storable feature outcomes.

Shared by the workers and by `sightline analyze`, which differ only in what happens to the
artifacts (thumbnails): stored as blobs, or just described.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sightline.errors import ConfigurationError, InvalidFeature, SkipFeature
from sightline.settings import Settings
from sightline.storage.records import FeatureState, FeatureStatus
from sightline.vision.base import JSON, Analyzer, Artifact, Picture

log = logging.getLogger(__name__)

# Given an artifact and its role ("thumbnail:sizes.256"), store it and return its sha256.
ArtifactSink = Callable[[Artifact, str], str]


@dataclass(frozen=True)
class FeatureRun:
    state: FeatureState
    seconds: float
    artifacts: dict[str, str] = field(default_factory=dict)  # role -> sha256


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


def run_feature(
    feature: str, analyzer: Analyzer | None, picture: Picture, sink: ArtifactSink
) -> FeatureRun:
    """One feature. An analyzer crash fails this feature for this picture only; a failure to
    store its artifacts is the job's and propagates, so the job is retried."""
    if analyzer is None:
        state = FeatureState(
            feature,
            FeatureStatus.SKIPPED,
            analyzer="",
            version="",
            result={"reason": f"No analyzer for {feature!r} is installed in this worker."},
        )
        return FeatureRun(state, 0.0)
    started = time.perf_counter()
    artifacts: dict[str, str] = {}
    try:
        raw = analyzer.analyze(picture)
    except SkipFeature as skip:
        status, result, error = FeatureStatus.SKIPPED, {"reason": skip.reason}, None
    except Exception as exc:  # an analyzer bug must not take the other features down
        log.exception("Analyzer %s failed on %s", analyzer.name, picture.sha256)
        status, result = FeatureStatus.FAILED, None
        error = error_info("AnalyzerError", f"{type(exc).__name__}: {exc}")
    else:
        result = _store_artifacts(raw, feature, sink, artifacts)
        status, error = FeatureStatus.DONE, None
    state = FeatureState(feature, status, analyzer.name, analyzer.version, result, error)
    return FeatureRun(state, time.perf_counter() - started, artifacts)


def run_features(
    picture: Picture,
    features: Sequence[str],
    analyzers: Mapping[str, Analyzer],
    sink: ArtifactSink,
) -> list[FeatureRun]:
    """In the registry's order, whatever the request's: a feature that reuses another's output
    (smart crops keep the text that `read` found) then sees it whenever both run."""
    rank = {name: index for index, name in enumerate(analyzers)}
    ordered = sorted(features, key=lambda name: rank.get(name, len(rank)))
    return [run_feature(name, analyzers.get(name), picture, sink) for name in ordered]


def analyze_once(
    picture: Picture, features: Sequence[str], analyzers: Mapping[str, Analyzer]
) -> JSON:
    """Results inline, nothing stored: artifacts are described by their checksum only."""
    runs = run_features(
        picture, features, analyzers, lambda artifact, _role: _sha256(artifact.data)
    )
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def describe_artifact(artifact: Artifact, sha256: str) -> JSON:
    return {
        "sha256": sha256,
        "content_type": artifact.content_type,
        "size": len(artifact.data),
        "width": artifact.width,
        "height": artifact.height,
    }


def _store_artifacts(value: Any, path: str, sink: ArtifactSink, stored: dict[str, str]) -> Any:
    if isinstance(value, Artifact):
        sha256 = sink(value, path)
        stored[path] = sha256
        return describe_artifact(value, sha256)
    if isinstance(value, dict):
        separator = ":" if ":" not in path else "."
        return {
            key: _store_artifacts(item, f"{path}{separator}{key}", sink, stored)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _store_artifacts(item, f"{path}.{index}", sink, stored)
            for index, item in enumerate(value)
        ]
    return value
