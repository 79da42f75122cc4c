"""The web app's server side: the page and its assets, and the browser session that stands in for
an API key (HttpOnly, SameSite=Strict cookie, Secure over https), kept and ended on the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import TEST_SETTINGS, RunningServer, serve
from sightline.api.auth import SESSION_COOKIE
from sightline.app import Sightline
from sightline.settings import Settings

STATIC = Path(__file__).parents[2] / "src" / "sightline" / "web" / "static"
KEYS = "alpha-key-123, beta-key-456"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    # The model-free test features: no model loads in the background of the requests timed here.
    settings = Settings(data_dir=tmp_path / "d", api_keys=KEYS, **TEST_SETTINGS)  # type: ignore[arg-type]
    app = Sightline(settings)
    with serve(app) as running:
        yield running
    app.close()


def test_the_page_and_its_assets_are_served_with_a_strict_policy(server: RunningServer) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, media_type in (
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("icons.svg", "image/svg+xml"),
    ):
        asset = httpx.get(f"{server.url}/ui/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].startswith(media_type)
        # Revalidated on each load, so a new release shows at once; unchanged files cost a 304.
        assert asset.headers["cache-control"] == "no-cache"
        again = httpx.get(
            f"{server.url}/ui/{name}", headers={"If-None-Match": asset.headers["etag"]}
        )
        assert again.status_code == 304
    assert httpx.get(server.url + "/docs").status_code == 200  # the API docs stay where they were


@pytest.mark.parametrize(
    "path", ["/ui/missing.js", "/ui/..%2Froutes.py", "/ui/.hidden.js", "/ui/index.html"]
)
def test_only_shipped_assets_are_served(server: RunningServer, path: str) -> None:
    response = httpx.get(server.url + path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


def test_every_module_icon_and_file_the_app_names_exists() -> None:
    """No build step checks the front end, so this does: relative imports, icon ids and `ui/`
    files named in the static files all exist."""
    icons = set(re.findall(r'<symbol id="([a-z-]+)"', (STATIC / "icons.svg").read_text()))
    for path in STATIC.iterdir():
        text = path.read_text()
        for module in re.findall(r'from "\./([\w-]+\.js)"', text):
            assert (STATIC / module).is_file(), f"{path.name} imports {module}"
        used = re.findall(
            r'(?:icon\(|iconName: |iconName = )"([a-z-]+)"|icons\.svg#([a-z-]+)', text
        )
        for name in ("".join(groups) for groups in used):
            assert name in icons, f"{path.name} uses the missing icon {name!r}"
        for name in re.findall(r'"ui/([\w-]+\.(?:js|css|svg))', text):
            assert (STATIC / name).is_file(), f"{path.name} names ui/{name}"


def test_without_keys_the_browser_needs_no_session(server: RunningServer) -> None:
    assert httpx.get(server.url + "/ui/session").json() == {
        "auth_required": False,
        "signed_in": True,
        "scope": None,
    }


def sign_in(server: RunningServer, key: str, **headers: str) -> str:
    response = httpx.post(server.url + "/ui/session", json={"api_key": key}, headers=headers)
    assert response.status_code == 200, response.text
    return response.cookies[SESSION_COOKIE]


def images_status(server: RunningServer, session: str) -> int:
    return httpx.get(server.url + "/v1/images", cookies={SESSION_COOKIE: session}).status_code


def test_a_session_cookie_stands_in_for_the_key(guarded: RunningServer) -> None:
    with httpx.Client(base_url=guarded.url) as browser:
        assert browser.get("/ui/session").json() == {
            "auth_required": True,
            "signed_in": False,
            "scope": None,
        }
        assert browser.get("/v1/images").status_code == 401

        refused = browser.post("/ui/session", json={"api_key": "alpha-key"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "Unauthorized"
        assert SESSION_COOKIE not in browser.cookies

        signed_in = browser.post("/ui/session", json={"api_key": "beta-key-456"})
        assert signed_in.json() == {"auth_required": True, "signed_in": True, "scope": "admin"}
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
        assert "beta-key-456" not in cookie  # the cookie never carries the key itself
        assert browser.get("/ui/session").json()["signed_in"] is True
        assert browser.get("/v1/images").status_code == 200
        with browser.stream("GET", "/v1/events") as events:
            assert events.status_code == 200  # EventSource can only send cookies

        # A header with a wrong key is refused even with a good cookie: the header decides.
        wrong = browser.get("/v1/images", headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401

        assert browser.delete("/ui/session").status_code == 204
        assert browser.get("/v1/images").status_code == 401


def test_a_forged_or_foreign_cookie_is_refused(guarded: RunningServer) -> None:
    for value in ("", "alpha-key-123", "0" * 64):
        response = httpx.get(guarded.url + "/v1/images", cookies={SESSION_COOKIE: value})
        assert response.status_code == 401, value


def test_signing_out_ends_the_session_on_the_server(guarded: RunningServer) -> None:
    session = sign_in(guarded, "alpha-key-123")
    copy = session  # e.g. taken from the browser before it signed out
    assert images_status(guarded, copy) == 200
    signed_out = httpx.delete(guarded.url + "/ui/session", cookies={SESSION_COOKIE: session})
    assert signed_out.status_code == 204
    assert images_status(guarded, copy) == 401


def test_signing_out_everywhere_ends_every_session_of_the_key(guarded: RunningServer) -> None:
    first, second = sign_in(guarded, "alpha-key-123"), sign_in(guarded, "alpha-key-123")
    other_key = sign_in(guarded, "beta-key-456")
    everywhere = httpx.delete(
        guarded.url + "/ui/session",
        params={"everywhere": "true"},
        cookies={SESSION_COOKIE: first},
    )
    assert everywhere.status_code == 204
    assert images_status(guarded, first) == 401 and images_status(guarded, second) == 401
    assert images_status(guarded, other_key) == 200


def test_a_stored_keys_session_has_its_scope_and_ends_with_the_key(
    guarded: RunningServer,
) -> None:
    admin = {"X-API-Key": "alpha-key-123"}
    made = httpx.post(
        guarded.url + "/v1/keys", json={"name": "viewer", "scope": "read"}, headers=admin
    ).json()
    session = sign_in(guarded, made["secret"])
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    assert images_status(guarded, session) == 200
    refused = httpx.post(
        guarded.url + "/v1/classifiers",
        json={"name": "nope", "kind": "multiclass"},
        cookies={SESSION_COOKIE: session},
        headers=same_origin,
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "InsufficientScope"

    ended = httpx.delete(f"{guarded.url}/v1/keys/{made['id']}/sessions", headers=admin)
    assert ended.json() == {"ended": 1}
    assert images_status(guarded, session) == 401
    session = sign_in(guarded, made["secret"])  # the key itself still works
    assert httpx.delete(f"{guarded.url}/v1/keys/{made['id']}", headers=admin).status_code == 204
    assert images_status(guarded, session) == 401


def test_the_cookie_is_secure_when_served_over_https(guarded: RunningServer) -> None:
    # The test server trusts X-Forwarded-Proto from loopback, as `sightline serve` does by
    # default (SIGHTLINE_FORWARDED_ALLOW_IPS): a TLS-terminating proxy on the same machine.
    signed_in = httpx.post(
        guarded.url + "/ui/session",
        json={"api_key": "alpha-key-123"},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert signed_in.status_code == 200
    assert "Secure" in signed_in.headers["set-cookie"]


def test_a_signed_in_browser_changes_things_only_from_its_own_pages(
    guarded: RunningServer,
) -> None:
    cookies = {SESSION_COOKIE: sign_in(guarded, "alpha-key-123")}
    host = guarded.url.removeprefix("http://")

    def create(headers: dict[str, str]) -> int:
        body = {"name": "from-a-page", "kind": "multiclass"}
        url = guarded.url + "/v1/classifiers"
        return httpx.post(url, json=body, cookies=cookies, headers=headers).status_code

    assert create({"Sec-Fetch-Site": "same-site", "Origin": "http://evil.localhost:9"}) == 401
    assert create({"Origin": "http://evil.localhost:9"}) == 401
    assert create({}) == 401  # a browser names the origin of every such request
    assert create({"Sec-Fetch-Site": "same-origin", "Origin": f"http://{host}"}) == 201
    listed = httpx.get(
        guarded.url + "/v1/classifiers", cookies=cookies, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert listed.status_code == 200  # reading is harmless: other sites cannot see the answer
    keyed = httpx.post(
        guarded.url + "/v1/classifiers",
        json={"name": "from-a-script", "kind": "multiclass"},
        headers={"X-API-Key": "beta-key-456", "Origin": "http://evil.localhost:9"},
    )
    assert keyed.status_code == 201  # the key itself is not a browser's ambient credential
