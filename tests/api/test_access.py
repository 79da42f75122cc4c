"""Access control over HTTP: the scope every route needs (enumerated from the OpenAPI document),
stored keys made and revoked through `/v1/keys`, when the API is open, the limits on wrong keys,
request rates and requests in flight, and `/metrics` behind a key."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import TEST_SETTINGS, RunningServer, serving
from sightline.settings import Settings
from support.apicheck import assert_error
from support.imagegen import noise

ADMIN = "admin-key-from-the-environment"
# Every admin operation; the rest need read (GET, HEAD) or write (anything else).
ADMIN_PATH = re.compile(r"^/v1/(keys|subscriptions)(/|$)")
PUBLISH = ("POST", "/v1/classifiers/{key}/versions/{number}/publish")


@contextmanager
def running(tmp_path: Path, **overrides: Any) -> Iterator[RunningServer]:
    settings = Settings(data_dir=tmp_path / "d", **{**TEST_SETTINGS, **overrides})
    with serving(settings) as server:
        yield server


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    with running(tmp_path, api_keys=ADMIN) as server:
        yield server


def key_header(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def make_key(server: RunningServer, scope: str, name: str = "", key: str = ADMIN) -> str:
    response = httpx.post(
        server.url + "/v1/keys",
        json={"name": name or f"a {scope} key", "scope": scope},
        headers=key_header(key),
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


def operations(server: RunningServer) -> list[tuple[str, str]]:
    schema = httpx.get(server.url + "/openapi.json").json()
    return [
        (method.upper(), path)
        for path, methods in schema["paths"].items()
        if path.startswith("/v1/")
        for method in methods
    ]


def needs_admin(method: str, path: str) -> bool:
    return bool(ADMIN_PATH.match(path)) or (method, path) == PUBLISH


def status_of(
    client: httpx.Client, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    url = re.sub(r"\{number\}", "1", re.sub(r"\{(?!number)[^}]+\}", "x", path))
    # Streamed and left unread: `/v1/events` never ends by itself.
    with client.stream(method, url, headers=headers) as response:
        if response.status_code >= 400:
            response.read()
        return response


def test_every_route_refuses_keys_short_of_its_scope(guarded: RunningServer) -> None:
    read, write = make_key(guarded, "read"), make_key(guarded, "write")
    found = operations(guarded)
    assert len(found) > 40
    assert PUBLISH in found and ("DELETE", "/v1/keys/{key_id}") in found
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        for method, path in found:
            assert_error(status_of(client, method, path, {}), 401, "Unauthorized")
            for secret, allowed in (
                (read, method in ("GET", "HEAD") and not needs_admin(method, path)),
                (write, not needs_admin(method, path)),
                (ADMIN, True),
            ):
                response = status_of(client, method, path, key_header(secret))
                if allowed:
                    assert response.status_code not in (401, 403), (method, path, response.text)
                else:
                    assert_error(response, 403, "InsufficientScope")


def test_the_openapi_document_names_each_operations_scope(guarded: RunningServer) -> None:
    schema = httpx.get(guarded.url + "/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey", "session"}
    for method, path in operations(guarded):
        operation = schema["paths"][path][method.lower()]
        scopes = {
            scope
            for requirement in operation["security"]
            for s in requirement.values()
            for scope in s
        }
        expected = "admin" if needs_admin(method, path) else "read" if method == "GET" else "write"
        assert scopes == {expected}, (method, path)
        assert {"401", "403", "429"} <= set(operation["responses"])
    content = schema["paths"]["/v1/images/{image_id}/content"]["get"]
    assert {} in content["security"]  # a signed link needs no key
    assert {"expires", "signature"} <= {parameter["name"] for parameter in content["parameters"]}
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_the_api_is_open_only_until_the_first_key_and_revoking_never_reopens_it(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as server:
        assert httpx.get(server.url + "/v1/images").status_code == 200
        assert httpx.get(server.url + "/ui/session").json()["auth_required"] is False
        # While open, anyone may make the first key; from then on a key is needed.
        created = httpx.post(server.url + "/v1/keys", json={"name": "first", "scope": "admin"})
        assert created.status_code == 201
        secret, key_id = created.json()["secret"], created.json()["id"]
        assert_error(httpx.get(server.url + "/v1/images"), 401, "Unauthorized")
        assert httpx.get(server.url + "/v1/images", headers=key_header(secret)).status_code == 200
        assert httpx.get(server.url + "/ui/session").json() == {
            "auth_required": True,
            "signed_in": False,
            "scope": None,
        }
        revoked = httpx.delete(f"{server.url}/v1/keys/{key_id}", headers=key_header(secret))
        assert revoked.status_code == 204
        assert_error(
            httpx.get(server.url + "/v1/images", headers=key_header(secret)), 401, "Unauthorized"
        )
        assert_error(httpx.get(server.url + "/v1/images"), 401, "Unauthorized")
    # A restarted process on the same catalog knows it has keys.
    with running(tmp_path) as server:
        assert_error(httpx.get(server.url + "/v1/images"), 401, "Unauthorized")


def test_keys_are_made_listed_and_revoked_through_the_api(guarded: RunningServer) -> None:
    admin = key_header(ADMIN)
    created = httpx.post(
        guarded.url + "/v1/keys",
        json={"name": "nightly export", "scope": "write", "expires_at": "2999-01-01T00:00:00Z"},
        headers=admin,
    )
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"/v1/keys/{body['id']}"
    assert body["secret"].startswith(body["prefix"])
    assert body["expires_at"].startswith("2999-01-01") and body["last_used_at"] is None

    assert (
        httpx.post(
            guarded.url + "/v1/classifiers",
            json={"name": "n", "kind": "multiclass"},
            headers=key_header(body["secret"]),
        ).status_code
        == 201
    )
    listed = httpx.get(guarded.url + "/v1/keys", headers=admin).json()["items"]
    assert [item["name"] for item in listed] == ["nightly export"]
    assert "secret" not in listed[0] and listed[0]["last_used_at"] is not None
    assert httpx.get(f"{guarded.url}/v1/keys/{body['id']}", headers=admin).json() == listed[0]

    assert httpx.delete(f"{guarded.url}/v1/keys/{body['id']}", headers=admin).status_code == 204
    refused = httpx.get(guarded.url + "/v1/images", headers=key_header(body["secret"]))
    assert_error(refused, 401, "Unauthorized")
    assert "revoked" in refused.json()["error"]["message"]
    assert httpx.get(f"{guarded.url}/v1/keys/{body['id']}", headers=admin).json()["revoked_at"]
    assert_error(httpx.delete(guarded.url + "/v1/keys/key_nope", headers=admin), 404, "KeyNotFound")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x", "scope": "root"},
        {"name": "x", "scope": "read", "colour": "blue"},
        {"name": 5},
        {"name": "x", "expires_at": "2999-01-01T00:00:00"},  # no zone
        {"name": "x", "expires_at": "2001-01-01T00:00:00Z"},  # past
    ],
)
def test_bad_key_requests_are_refused_and_store_nothing(
    guarded: RunningServer, body: dict[str, Any]
) -> None:
    response = httpx.post(guarded.url + "/v1/keys", json=body, headers=key_header(ADMIN))
    assert_error(response, 400, "InvalidParameter")
    assert httpx.get(guarded.url + "/v1/keys", headers=key_header(ADMIN)).json() == {"items": []}


def test_an_address_sending_wrong_keys_is_throttled(tmp_path: Path) -> None:
    with running(tmp_path, api_keys=ADMIN, auth_failure_limit=3) as server:
        with httpx.Client(base_url=server.url) as browser:
            assert browser.post("/ui/session", json={"api_key": ADMIN}).status_code == 200
            for guess in ("guess-1", "guess-2"):
                assert_error(
                    browser.get("/v1/images", headers={"X-API-Key": guess}), 401, "Unauthorized"
                )
            wrong_sign_in = browser.post("/ui/session", json={"api_key": "guess-3"})
            assert_error(wrong_sign_in, 401, "Unauthorized")  # signing in counts too
            for headers in ({"X-API-Key": "guess-4"}, key_header(ADMIN)):
                refused = httpx.get(server.url + "/v1/images", headers=headers)
                assert_error(refused, 429, "TooManyAuthFailures")  # even the right key
                assert 1 <= int(refused.headers["retry-after"]) <= 60
            assert_error(
                browser.post("/ui/session", json={"api_key": ADMIN}), 429, "TooManyAuthFailures"
            )
            # No key is no guess, and a signed-in browser is not guessing either.
            assert_error(httpx.get(server.url + "/v1/images"), 401, "Unauthorized")
            assert browser.get("/v1/images").status_code == 200


def test_a_key_over_its_rate_is_refused_and_others_are_not(tmp_path: Path) -> None:
    with running(tmp_path, api_keys=ADMIN, key_rate_limit=3) as server:
        other = make_key(server, "read")  # the admin key's first request
        for _ in range(2):
            assert (
                httpx.get(server.url + "/v1/images", headers=key_header(ADMIN)).status_code == 200
            )
        refused = httpx.get(server.url + "/v1/images", headers=key_header(ADMIN))
        assert_error(refused, 429, "RateLimited")
        assert int(refused.headers["retry-after"]) >= 1
        assert httpx.get(server.url + "/v1/images", headers=key_header(other)).status_code == 200


def test_a_key_over_its_requests_in_flight_is_refused_until_one_ends(tmp_path: Path) -> None:
    with running(tmp_path, api_keys=ADMIN, key_concurrency_limit=1) as server:
        other = make_key(server, "read")
        url = server.url + "/v1/images"
        with httpx.stream("GET", server.url + "/v1/events", headers=key_header(ADMIN)) as stream:
            assert stream.status_code == 200
            refused = httpx.get(url, headers=key_header(ADMIN))
            assert_error(refused, 429, "TooManyConcurrentRequests")
            assert refused.headers["retry-after"] == "1"
            assert httpx.get(url, headers=key_header(other)).status_code == 200
        # The stream's slot is given back once the server sees it closed.
        deadline = time.monotonic() + 10
        while httpx.get(url, headers=key_header(ADMIN)).status_code == 429:
            assert time.monotonic() < deadline, "the closed stream still counts"
            time.sleep(0.05)


def test_metrics_can_require_a_key(tmp_path: Path) -> None:
    with running(tmp_path, api_keys=ADMIN, metrics_require_key=True) as server:
        assert_error(httpx.get(server.url + "/metrics"), 401, "Unauthorized")
        reader = make_key(server, "read")
        assert httpx.get(server.url + "/metrics", headers=key_header(reader)).status_code == 200
        assert httpx.get(server.url + "/healthz").status_code == 200
        schema = httpx.get(server.url + "/openapi.json").json()
        assert schema["paths"]["/metrics"]["get"]["security"]
        assert {"401", "429"} <= set(schema["paths"]["/metrics"]["get"]["responses"])


def test_a_key_bound_to_a_collection_reaches_only_that_collection(guarded: RunningServer) -> None:
    admin = key_header(ADMIN)
    response = httpx.post(
        guarded.url + "/v1/keys",
        json={"name": "shop a", "scope": "admin", "collection": "shop-a"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    assert response.json()["collection"] == "shop-a"
    bound = key_header(response.json()["secret"])
    png = {"file": ("b.png", noise(1, size=(16, 16), fmt="PNG"))}
    other = httpx.post(guarded.url + "/v1/images?collection=shop-b", files=png, headers=admin)
    [theirs] = other.json()["images"]
    png = {"file": ("a.png", noise(2, size=(16, 16), fmt="PNG"))}
    mine = httpx.post(guarded.url + "/v1/images", files=png, headers=bound).json()["images"][0]
    assert mine["collection"] == "shop-a"

    listed = httpx.get(guarded.url + "/v1/images", headers=bound).json()["items"]
    assert [image["id"] for image in listed] == [mine["id"]]
    assert_error(
        httpx.get(f"{guarded.url}/v1/images/{theirs['id']}", headers=bound), 404, "ImageNotFound"
    )
    assert_error(
        httpx.get(guarded.url + "/v1/images?collection=shop-b", headers=bound),
        403,
        "CollectionForbidden",
    )
    # Keys reach every collection: a bound key, even an admin one, cannot make or list them.
    for method in ("GET", "POST"):
        answer = httpx.request(
            method, guarded.url + "/v1/keys", json={"name": "x", "scope": "admin"}, headers=bound
        )
        assert_error(answer, 403, "CollectionForbidden")
    # The unbound admin key still sees both.
    everyone = httpx.get(guarded.url + "/v1/images", headers=admin).json()["items"]
    assert {image["id"] for image in everyone} == {mine["id"], theirs["id"]}


def test_a_key_cannot_be_bound_to_an_invalid_collection(guarded: RunningServer) -> None:
    response = httpx.post(
        guarded.url + "/v1/keys",
        json={"name": "bad", "scope": "read", "collection": "Not A Slug"},
        headers=key_header(ADMIN),
    )
    assert_error(response, 400, "InvalidCollection")
