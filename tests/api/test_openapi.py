"""The OpenAPI document tells the truth: each operation documents the answers it can give, its
errors in the one error shape with their possible codes, and its parameters with their real
bounds. (That every answer the tests provoke is documented is checked by every test server:
tests/support/answers.py; that generated requests get documented answers, by
test_conformance.py.)"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import RunningServer
from sightline import errors
from sightline.api.auth import SIGNED_ROUTES
from sightline.api.errors import HTTP_CODES
from sightline.api.schemas import MAX_STORED_INT
from sightline.vision.thumbnail import THUMBNAIL_SIZES
from support.answers import error_codes


def every_error_class(root: type[errors.SightlineError]) -> list[type[errors.SightlineError]]:
    return [root] + [found for sub in root.__subclasses__() for found in every_error_class(sub)]


STATUS_OF_CODE = {
    error.code: error.status_code for error in every_error_class(errors.SightlineError)
}


@pytest.fixture
def document(server: RunningServer) -> dict[str, Any]:
    served: dict[str, Any] = httpx.get(f"{server.url}/openapi.json").json()
    return served


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_no_operation_documents_the_validation_error_fastapi_would_send(
    document: dict[str, Any],
) -> None:
    # Validation errors are answered 400 InvalidParameter, in the one error shape.
    assert "HTTPValidationError" not in json.dumps(document)
    assert "ValidationError" not in document["components"]["schemas"]


def test_every_error_response_is_the_error_shape_with_its_codes(document: dict[str, Any]) -> None:
    for name, operation in operations(document):
        responses = operation["responses"]
        assert any(status.startswith("2") for status in responses), name
        assert "500" in responses, f"{name}: anything may fail unexpectedly"
        for status, response in responses.items():
            if int(status) < 400 or (name == "GET /readyz" and status == "503"):
                continue
            schema = response["content"]["application/json"]["schema"]
            assert {"$ref": "#/components/schemas/ErrorBody"} in schema["allOf"], name
            codes = error_codes(response)
            assert codes, f"{name} {status} lists no code"
            for code in codes:
                assert STATUS_OF_CODE.get(code) == int(status), f"{name}: {code} is no {status}"
                assert f"`{code}`" in response["description"]


def test_operations_document_only_errors_of_their_kind(document: dict[str, Any]) -> None:
    """Each status an operation lists is one it can give: no copy of one list on every route."""
    responses = {name: operation["responses"] for name, operation in operations(document)}
    assert set(responses["GET /v1/models"]) == {"200", "401", "403", "429", "500"}
    assert set(responses["GET /healthz"]) == {"200", "500"}
    assert set(responses["GET /v1/images/{image_id}"]) == {
        "200",
        "304",
        "400",
        "401",
        "403",
        "404",
        "429",
        "500",
    }
    assert error_codes(responses["GET /v1/images/{image_id}"]["404"]) == ["ImageNotFound"]
    assert "416" in responses["GET /v1/images/{image_id}/content"]
    assert "416" not in responses["GET /v1/images"]
    assert "413" in responses["POST /v1/images"] and "413" not in responses["GET /v1/search"]
    assert error_codes(responses["POST /v1/analyze"]["422"]) == ["UrlFetchFailed"]
    # Protected by an API key (when keys are configured): every /v1 operation, and only those;
    # /metrics only when SIGHTLINE_METRICS_REQUIRE_KEY asks for one (not here).
    for name, listed in responses.items():
        assert ("401" in listed) == (" /v1/" in name or name == "POST /ui/session"), name


def test_access_and_collection_refusals_are_listed_where_they_can_happen(
    document: dict[str, Any],
) -> None:
    for name, operation in operations(document):
        responses = operation["responses"]
        if " /v1/" not in name:
            assert "403" not in responses, name
            continue
        forbidden = error_codes(responses["403"])
        assert "InsufficientScope" in forbidden, name
        assert error_codes(responses["429"]) == [
            "TooManyAuthFailures",
            "RateLimited",
            "TooManyConcurrentRequests",
        ]
        assert "Retry-After" in responses["429"]["headers"], name
        takes_collection = any(p["name"] == "collection" for p in operation.get("parameters", []))
        if takes_collection:
            assert "InvalidCollection" in error_codes(responses["400"]), name
            assert "CollectionForbidden" in forbidden, name
        signed = name.split(" ", 1)[1] in SIGNED_ROUTES
        assert signed == ("InvalidSignature" in forbidden and "LinkExpired" in forbidden), name
    assert "InvalidCollection" in error_codes(
        dict(operations(document))["POST /v1/keys"]["responses"]["400"]
    )
    # A key bound to a collection cannot manage keys; nor reach what serves every collection.
    for name in ("POST /v1/keys", "GET /v1/keys", "POST /v1/storage/events"):
        assert "CollectionForbidden" in error_codes(
            dict(operations(document))[name]["responses"]["403"]
        )


def test_unknown_routes_and_wrong_methods_have_codes_of_their_own() -> None:
    assert HTTP_CODES[404] == "NotFound" and HTTP_CODES[405] == "MethodNotAllowed"


def parameter(document: dict[str, Any], name: str, parameter: str) -> dict[str, Any]:
    operation = dict(operations(document))[name]
    found = next(p for p in operation["parameters"] if p["name"] == parameter)
    schema: dict[str, Any] = found["schema"]
    return next((s for s in schema.get("anyOf", []) if s.get("type") != "null"), schema)


def test_enumerations_and_ranges_are_declared(document: dict[str, Any]) -> None:
    size = parameter(document, "GET /v1/images/{image_id}/thumbnail", "size")
    assert size["enum"] == list(THUMBNAIL_SIZES)
    assert parameter(document, "GET /v1/images", "limit").items() >= {
        ("minimum", 1),
        ("maximum", 200),
    }
    assert parameter(document, "GET /v1/images", "uploaded_before")["format"] == "date-time"
    for name, operation in operations(document):
        for declared in operation.get("parameters", []):
            schema = parameter(document, name, declared["name"])
            if schema.get("type") == "integer" and "enum" not in schema:
                assert schema.get("minimum", -1) >= 0, f"{name} {declared['name']}"
                assert schema.get("maximum", MAX_STORED_INT + 1) <= MAX_STORED_INT
