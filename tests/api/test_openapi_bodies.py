"""Every body the OpenAPI document describes is typed and shown by example: each request body an
operation takes and each success answer it gives has a schema that says what is in it (not `{}`,
a bare `object` or a map of anything), JSON and text bodies carry at least one example, and every
example in the document is valid against the schema it illustrates. (Binary bodies, such as
image files and multipart forms of them, are typed as bytes; an example of bytes shows nothing.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest

from conftest import TEST_SETTINGS
from sightline.api.schemas import SkippedResult
from sightline.app import Sightline
from sightline.settings import Settings
from sightline.vision.registry import RESULT_MODELS

Document = dict[str, Any]
SCHEMA_KEYWORDS_HOLDING_SCHEMAS = ("items", "additionalProperties", "not", "contains")
SCHEMA_KEYWORDS_HOLDING_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Document]:
    """The document as served, with the web app's routes; made in-process, no server needed."""
    data_dir: Path = tmp_path_factory.mktemp("openapi") / "data"
    app = Sightline(Settings(data_dir=data_dir, **TEST_SETTINGS))  # type: ignore[arg-type]
    try:
        yield app.api(run_workers=False).openapi()
    finally:
        app.close()


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name, JSON pointer, operation) of every operation."""
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            pointer = f"/paths/{escape(path)}/{method}"
            yield f"{method.upper()} {path}", pointer, operation


def bodies(document: Document) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(operation and what body, media type, JSON pointer, media type object) of every request
    body and success answer of the document."""
    for name, pointer, operation in operations(document):
        request = operation.get("requestBody")
        if request is not None:
            for media_type, media in request["content"].items():
                at = f"{pointer}/requestBody/content/{escape(media_type)}"
                yield f"{name} request", media_type, at, media
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                for media_type, media in response.get("content", {}).items():
                    at = f"{pointer}/responses/{status}/content/{escape(media_type)}"
                    yield f"{name} {status}", media_type, at, media


def escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def resolve(document: Document, schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a `$ref` names, and of an optional body (`anyOf` it or null), the body's."""
    while True:
        if "$ref" in schema:
            found: dict[str, Any] = document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                found = found[part.replace("~1", "/").replace("~0", "~")]
            schema = found
            continue
        alternatives = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
        if len(alternatives) == 1 and len(schema["anyOf"]) == 2:
            schema = alternatives[0]
            continue
        return schema


def untyped(document: Document, schema: dict[str, Any] | None) -> str | None:
    """Why a body's schema does not say what the body holds, or None when it does."""
    if not schema:
        return "no schema"
    schema = resolve(document, schema)
    alternatives: list[dict[str, Any]] = schema.get("anyOf", schema.get("oneOf", []))
    if alternatives:
        return next((why for part in alternatives if (why := untyped(document, part))), None)
    kind = schema.get("type")
    if kind is None:
        return "a schema without a type"
    if kind == "object" and not schema.get("properties"):
        return "an object without properties"
    if kind == "array":
        return untyped(document, schema.get("items"))
    return None


def is_binary(document: Document, media_type: str, schema: dict[str, Any] | None) -> bool:
    if media_type == "multipart/form-data" and schema:
        properties = resolve(document, schema).get("properties", {}).values()
        return any(is_binary(document, "", value) for value in properties)
    if not schema:
        return False
    schema = resolve(document, schema)
    if schema.get("type") == "array":
        return is_binary(document, media_type, schema.get("items"))
    return schema.get("type") == "string" and schema.get("format") == "binary"


def has_example(document: Document, media: dict[str, Any]) -> bool:
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = media.get("schema")
    return bool(schema and resolve(document, schema).get("examples"))


def test_every_body_is_typed(document: Document) -> None:
    problems = [
        f"{name} {media_type}: {why}"
        for name, media_type, _at, media in bodies(document)
        if (why := untyped(document, media.get("schema")))
    ]
    assert not problems, "\n".join(problems)


def test_every_success_but_no_content_says_what_it_answers(document: Document) -> None:
    # 204 has no body; a 206 is a range of the 200's bytes.
    for name, _pointer, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2") and status not in {"204", "206"}:
                assert response.get("content"), f"{name} {status}"


# The operations that change something without taking a body: every other POST, PUT or PATCH
# reads one, and the document must say what it is (the routes reading their body themselves,
# files or JSON, declare it by hand).
WITHOUT_BODY = {
    "POST /v1/classifiers/{key}/versions/{number}/publish",
    "POST /v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver",
    "POST /v1/subscriptions/{subscription_id}/redeliver",
    "POST /v1/faces/{face_id}/not-the-same",
}


def test_every_operation_taking_a_body_documents_it(document: Document) -> None:
    for name, _pointer, operation in operations(document):
        if name.split()[0] in {"POST", "PUT", "PATCH"} and name not in WITHOUT_BODY:
            assert "requestBody" in operation, name


def test_every_json_and_text_body_has_an_example(document: Document) -> None:
    problems = [
        f"{name} {media_type}"
        for name, media_type, _at, media in bodies(document)
        if not is_binary(document, media_type, media.get("schema"))
        and not has_example(document, media)
    ]
    assert not problems, "No example:\n" + "\n".join(problems)


def schemas_in(node: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema within the schema `node` (itself included), with its JSON pointer."""
    if not isinstance(node, dict):
        return
    yield pointer, node
    for keyword in SCHEMA_KEYWORDS_HOLDING_SCHEMAS:
        if isinstance(node.get(keyword), dict):
            yield from schemas_in(node[keyword], f"{pointer}/{keyword}")
    for keyword in SCHEMA_KEYWORDS_HOLDING_LISTS:
        for index, part in enumerate(node.get(keyword, [])):
            yield from schemas_in(part, f"{pointer}/{keyword}/{index}")
    for keyword in ("properties", "$defs"):
        for key, part in node.get(keyword, {}).items():
            yield from schemas_in(part, f"{pointer}/{keyword}/{escape(key)}")


def examples(document: Document) -> Iterator[tuple[str, Any]]:
    """(JSON pointer of the schema it illustrates, example) of every example in the document:
    in the components' schemas, the bodies' schemas and the media type objects."""
    roots = [
        (f"/components/schemas/{escape(name)}", schema)
        for name, schema in document["components"]["schemas"].items()
    ]
    for _name, _media_type, at, media in bodies(document):
        if "schema" in media:
            roots.append((f"{at}/schema", media["schema"]))
            if "example" in media:
                yield f"{at}/schema", media["example"]
            for example in media.get("examples", {}).values():
                yield f"{at}/schema", example["value"]
    for root, schema in roots:
        for pointer, part in schemas_in(schema, root):
            for example in part.get("examples", []):
                yield pointer, example


def test_every_example_is_valid_against_its_schema(document: Document) -> None:
    problems: list[str] = []
    seen = 0
    for pointer, example in examples(document):
        seen += 1
        validator = jsonschema_rs.validator_for(
            {**document, "$ref": "#" + quote(pointer, safe="/~")}, validate_formats=True
        )
        problems.extend(f"{pointer}: {error}" for error in validator.iter_errors(example))
    assert not problems, "\n".join(problems)
    assert seen > 40


def test_the_example_results_are_their_features_results(document: Document) -> None:
    """The document types a result as any feature's: each example's is checked against its
    own feature's result schema here."""
    schemas = document["components"]["schemas"]
    features = [
        (name, feature)
        for image in schemas["ImageOut"]["examples"]
        for name, feature in image["features"].items()
    ] + [
        (name, feature)
        for analyzed in schemas["AnalyzeOut"]["examples"]
        for name, feature in analyzed["features"].items()
    ]
    problems: list[str] = []
    checked = 0
    for name, feature in features:
        if feature["result"] is None:
            continue
        model = SkippedResult if feature["status"] == "skipped" else RESULT_MODELS[name]
        validator = jsonschema_rs.validator_for(
            {**document, "$ref": f"#/components/schemas/{model.__name__}"}
        )
        problems.extend(f"{name}: {error}" for error in validator.iter_errors(feature["result"]))
        checked += 1
    assert not problems, "\n".join(problems)
    assert checked > 5
