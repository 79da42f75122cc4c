"""Running one analyzer as the pipeline would, for tests that look at its stored JSON."""

from __future__ import annotations

import json
from typing import Any

from sightline.vision import Analyzer, Picture


def result_of(analyzer: Analyzer, picture: Picture, *dependencies: Analyzer) -> dict[str, Any]:
    """The analyzer's result as stored, given the analyses of `dependencies` (run first). Also
    checks that the stored JSON reads back into the result model unchanged, byte for byte: the
    catalog reads results back to index them."""
    inputs = {dependency.name: dependency.analyze(picture, {}) for dependency in dependencies}
    analysis = analyzer.analyze(picture, inputs)
    assert isinstance(analysis.result, analyzer.result_model)
    stored: dict[str, Any] = analysis.result.model_dump(mode="json")
    again = analyzer.result_model.model_validate(json.loads(json.dumps(stored)))
    assert json.dumps(again.model_dump(mode="json")) == json.dumps(stored)
    return stored
