"""Running analyzers on one picture."""

from __future__ import annotations

from imagegen import solid
from sightline.images.pipeline import run_features
from sightline.vision import Picture, decode


class Recorder:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.version, self.calls = name, "1", calls

    def analyze(self, picture: Picture) -> dict[str, object]:
        self.calls.append(self.name)
        return {}


def test_features_run_in_the_registry_order_whatever_the_request_order() -> None:
    calls: list[str] = []
    analyzers = {name: Recorder(name, calls) for name in ("first", "second", "third")}
    picture = decode(solid(), max_bytes=10**6, max_pixels=10**6)
    runs = run_features(picture, ["third", "first"], analyzers, lambda _a, _r: "")
    assert calls == ["first", "third"]
    assert [run.state.feature for run in runs] == ["first", "third"]
