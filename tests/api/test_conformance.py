"""Schemathesis against the OpenAPI document a live server serves: requests generated from the
document, valid and deliberately invalid, to every operation. No answer may be a server error
or stray from the document (status, content type, headers, the body's schema with its error
codes), and a request that breaks the document must be refused with a 4xx.

Every request carries the server's admin key, in place of any schemathesis makes up from the
document's security schemes: the keys the run itself makes (`POST /v1/keys`) would otherwise
close the open API to the rest of it. (Refusals are tests/api/test_access.py's.)

The budget is small, a few generated requests per operation and mode, so that the run stays
within a minute. The generation is derandomized: every run sends the same requests, so a failure
repeats where it is read, and a false positive of the generator (a negative case whose sent text
is valid after all, as `collection=true` once was) cannot fail one run in twenty.
(Schemathesis' own pytest integration needs a pytest older than ours, hence the loop over the
operations here.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, CheckContext, GenerationMode, Response
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import TEST_SETTINGS, RunningServer, serving
from sightline.settings import Settings

MAX_EXAMPLES = 8
ADMIN = "conformance-admin-key"
Operation = APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Operation]


def no_server_error(_ctx: CheckContext, response: Response, case: Case) -> None:
    # A 501 is this server's documented answer for what it lacks, not a failure: direct
    # uploads need an S3 blob store, and the server under test keeps its blobs in a folder.
    if response.status_code >= 500 and response.status_code != 501:
        raise AssertionError(f"{case.method} {case.formatted_path}: {response.text[:500]}")


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("conformance") / "data"
    settings = Settings(data_dir=data_dir, api_keys=ADMIN, **TEST_SETTINGS)  # type: ignore[arg-type]
    with serving(settings) as running:
        yield running


def exercise(operation: Operation, mode: GenerationMode, base_url: str) -> None:
    """Send `MAX_EXAMPLES` generated requests to the operation and check every answer."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        case.call_and_validate(base_url=base_url, checks=CHECKS, headers={"X-API-Key": ADMIN})

    run()


def breakable(document: dict[str, Any]) -> set[str]:
    """The operations a request can break the document of: those taking anything beyond text in
    their path (any text is a valid id, so hypothesis would only search in vain)."""
    found = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = operation.get("parameters", [])
            typed = [p for p in parameters if p["in"] != "path" or p["schema"]["type"] != "string"]
            if typed or "requestBody" in operation:
                found.add(f"{method.upper()} {path}")
    return found


@pytest.mark.timeout(600)  # about a minute here; a busy machine may need more
def test_every_answer_is_the_documented_one(live_server: RunningServer) -> None:
    document = httpx.get(f"{live_server.url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    can_break = breakable(document)
    failures = []
    # The event stream never ends: tests/api/test_events.py tests it.
    for result in schema.exclude(path="/v1/events").get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # the served document is valid
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and operation.label not in can_break:
                continue
            try:
                exercise(operation, mode, live_server.url)
            except Unsatisfiable:
                pass  # schemathesis found no way to break this operation's document
            except (AssertionError, FailureGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
