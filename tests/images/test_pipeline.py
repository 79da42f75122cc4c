"""Running analyzers on one picture: order, dependencies, artifacts; the collections opted into
face descriptors."""

from __future__ import annotations

import pytest

from sightline.errors import ConfigurationError
from sightline.images.pipeline import FeatureRun, face_collections, opt_in_features, run_features
from sightline.settings import Settings
from sightline.storage.records import FeatureStatus
from sightline.vision import Analysis, Artifact, Inputs, Picture, ResultModel, SkipFeature, decode
from sightline.vision.base import ArtifactRef
from support.imagegen import solid


class Seen(ResultModel):
    inputs: list[str]


class Recorder:
    """Records its runs; ends as `ends` says ("done", "skip" or "fail")."""

    def __init__(
        self,
        name: str,
        calls: list[str],
        depends_on: tuple[str, ...] = (),
        reuses: tuple[str, ...] = (),
        ends: str = "done",
    ) -> None:
        self.name, self.version, self.calls, self.ends = name, "1", calls, ends
        self.result_model = Seen
        self.depends_on, self.reuses = depends_on, reuses

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        self.calls.append(self.name)
        if self.ends == "skip":
            raise SkipFeature(f"{self.name} does not apply")
        if self.ends == "fail":
            raise RuntimeError(f"{self.name} broke")
        return Analysis(Seen(inputs=list(inputs)))


def picture() -> Picture:
    return decode(solid(), max_bytes=10**6, max_pixels=10**6)


def run(analyzers: dict[str, Recorder], features: list[str]) -> list[FeatureRun]:
    return run_features(picture(), features, analyzers, lambda _artifact, _role: None)


def test_features_run_in_request_order_and_come_back_in_registry_order() -> None:
    calls: list[str] = []
    analyzers = {name: Recorder(name, calls) for name in ("first", "second", "third")}
    runs = run(analyzers, ["third", "first"])
    assert calls == ["third", "first"]
    assert [run.state.feature for run in runs] == ["first", "third"]


def test_a_dependency_runs_first_and_is_handed_in_even_when_not_requested() -> None:
    calls: list[str] = []
    analyzers = {
        "crop": Recorder("crop", calls, depends_on=("faces",)),
        "faces": Recorder("faces", calls),
    }
    [crop] = run(analyzers, ["crop"])
    assert calls == ["faces", "crop"]
    assert crop.state.result == {"inputs": ["faces"]}
    calls.clear()
    both = run(analyzers, ["crop", "faces"])
    assert calls == ["faces", "crop"]  # once, shared
    assert [r.state.feature for r in both] == ["crop", "faces"]


def test_a_reused_feature_runs_first_only_when_requested() -> None:
    calls: list[str] = []
    analyzers = {
        "crop": Recorder("crop", calls, reuses=("read",)),
        "read": Recorder("read", calls),
    }
    [alone] = run(analyzers, ["crop"])
    assert calls == ["crop"] and alone.state.result == {"inputs": []}
    calls.clear()
    runs = run(analyzers, ["crop", "read"])
    assert calls == ["read", "crop"]
    assert runs[0].state.result == {"inputs": ["read"]}


def test_a_feature_ends_as_its_dependency_did() -> None:
    for ends, status in (("skip", FeatureStatus.SKIPPED), ("fail", FeatureStatus.FAILED)):
        calls: list[str] = []
        analyzers = {
            "crop": Recorder("crop", calls, depends_on=("faces",)),
            "faces": Recorder("faces", calls, ends=ends),
        }
        crop, faces = run(analyzers, ["crop", "faces"])
        assert calls == ["faces"]
        assert crop.state.status is faces.state.status is status
        assert (crop.state.result, crop.state.error) == (faces.state.result, faces.state.error)
        assert (crop.state.analyzer, crop.state.version) == ("crop", "1")


class Drawn(ResultModel):
    image: ArtifactRef


class Drawing:
    name, version, result_model, depends_on, reuses = "drawing", "1", Drawn, (), ()

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        artifact = Artifact(b"pixels", "image/webp", 2, 1)
        return Analysis(Drawn(image=ArtifactRef.of(artifact)), {"image": artifact})


def test_artifacts_are_stored_under_their_role_and_described_in_the_result() -> None:
    stored: list[tuple[bytes, str]] = []
    [drawn] = run_features(
        picture(),
        ["drawing"],
        {"drawing": Drawing()},
        lambda a, role: stored.append((a.data, role)),
    )
    assert stored == [(b"pixels", "drawing:image")]
    sha256 = drawn.state.result["image"]["sha256"]  # type: ignore[index]
    assert drawn.artifacts == {"drawing:image": sha256}
    assert drawn.state.result == {
        "image": {
            "sha256": sha256,
            "content_type": "image/webp",
            "size": 6,
            "width": 2,
            "height": 1,
        }
    }


def test_collections_opt_into_face_descriptors_by_valid_name_only() -> None:
    opted = face_collections(Settings(face_collections=" claims, studio-2 ,"))
    assert opted == {"claims", "studio-2"}
    embedding = Recorder("face_embedding", [], depends_on=("faces",))
    assert opt_in_features(opted, {"face_embedding": embedding}) == ["faces", "face_embedding"]
    assert opt_in_features(set(), {}) == []
    with pytest.raises(ConfigurationError, match="SIGHTLINE_FACE_COLLECTIONS"):
        face_collections(Settings(face_collections="claims,Not A Slug"))
    with pytest.raises(ConfigurationError, match="no 'face_embedding' analyzer"):
        opt_in_features(opted, {})
