"""The client's typed answers against the served OpenAPI document: every field a model
declares is one the document has, of a compatible type, and required only where the document
requires it; the feature → result table is the one the document describes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import TEST_SETTINGS
from sightline.app import Sightline
from sightline.client import models
from sightline.client.models import (
    RESULTS,
    CustomPrediction,
    Image,
    JsonRecord,
    LabelsResult,
    SkippedResult,
    TagsResult,
)
from sightline.settings import Settings


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The served document's components (made once: it is slow)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), **TEST_SETTINGS)  # type: ignore[arg-type]
    sightline = Sightline(settings)
    try:
        yield sightline.api(run_workers=False).openapi()["components"]["schemas"]
    finally:
        sightline.close()


def kinds(schema: dict[str, Any], definitions: dict[str, Any]) -> set[str]:
    """The JSON types a schema admits (`number` admitting integers), refs followed."""
    if "$ref" in schema:
        return kinds(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions)
    if "anyOf" in schema:
        return set().union(*(kinds(part, definitions) for part in schema["anyOf"]))
    kind = schema.get("type")
    if kind is None:
        return {"any"}
    return {"number", "integer"} if kind == "number" else {kind}


def typed_models() -> list[type[JsonRecord]]:
    return [
        value
        for value in vars(models).values()
        if isinstance(value, type) and issubclass(value, JsonRecord) and value.schema_name
    ]


@pytest.mark.parametrize("model", typed_models(), ids=lambda model: model.__name__)
def test_models_declare_only_what_the_document_has(
    schemas: dict[str, Any], model: type[JsonRecord]
) -> None:
    assert model.schema_name in schemas, f"{model.schema_name} is not a component any more"
    component = schemas[model.schema_name]
    ours = model.model_json_schema()
    definitions = ours.get("$defs", {})
    for name, field in ours["properties"].items():
        assert name in component["properties"], f"{model.schema_name} has no field {name}"
        theirs = kinds(component["properties"][name], schemas)
        accepted = kinds(field, definitions)
        assert "any" in accepted or theirs <= accepted, (
            f"{model.schema_name}.{name}: the server sends {theirs}, the client takes {accepted}"
        )
        if name in ours.get("required", []):
            assert name in component.get("required", []), f"{name} may be absent"


def test_results_are_typed_as_the_document_says(schemas: dict[str, Any]) -> None:
    description = schemas["FeatureOut"]["properties"]["result"]["description"]
    documented = dict(re.findall(r"`([a-z_]+)`: `(\w+)`", description))
    assert {name: kind.schema_name for name, kind in RESULTS.items()} == documented


def test_an_answer_reads_typed_and_as_its_json() -> None:
    sent = {
        "id": "img_1",
        "status": "done",
        "created_at": "2026-01-02T03:04:05Z",
        "added_by_a_newer_server": {"a": 1},
        "features": {
            "tags": {
                "status": "done",
                "version": "1",
                "analyzer": "tags",
                "result": {
                    "tags": [{"name": "cat", "confidence": 0.9, "source": "imagenet"}],
                    "classes": [],
                },
            },
            "read": {"status": "skipped", "result": {"reason": "too thin"}},
            "faces": {"status": "pending", "result": None},
            "objects": {"status": "done", "result": {"detectors": "a shape never seen"}},
            "custom:shoes": {"status": "done", "result": {"predicted": ["boot"]}},
            "model:mine": {"status": "done", "result": {"labels": [], "model": {}}},
        },
    }
    image = Image.model_validate(sent)

    assert image.tags == ["cat"]
    assert isinstance(image.result("tags"), TagsResult)
    assert image["features"]["tags"]["result"]["tags"][0]["name"] == "cat"
    assert image.get("added_by_a_newer_server") == {"a": 1}
    assert image.get("nothing", "default") == "default"
    assert dict(image) == sent and image == sent and image.model_dump() == sent
    assert dict(image.items()) == sent and list(image.values()) == list(sent.values())
    assert image.created_at is not None and image.created_at.year == 2026
    # Skipped, pending, absent, or shaped as this client does not know: nothing raises.
    assert image.text == ""
    assert image.feature("read").skipped and image.feature("read").reason == "too thin"
    assert isinstance(image.features["read"].result, SkippedResult)
    assert image.result("faces") is None and image.feature("faces").reason is None
    assert not image.feature("smart_crop").ok and image.feature("smart_crop").reason
    assert image.result("objects") is not None  # kept, untyped
    custom = image.result("custom:shoes")
    assert isinstance(custom, CustomPrediction) and custom.predicted == ["boot"]
    assert isinstance(image.result("model:mine"), LabelsResult)
