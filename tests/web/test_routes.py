"""The web app's server side: the page and its assets, and the browser session that stands in for
an API key (HttpOnly, SameSite=Strict cookie)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import RunningServer, serve
from sightline.api.deps import SESSION_COOKIE, SESSION_SECONDS, session_token
from sightline.app import Sightline
from sightline.settings import Settings

STATIC = Path(__file__).parents[2] / "src" / "sightline" / "web" / "static"
KEYS = "alpha-key-123, beta-key-456"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    app = Sightline(Settings(data_dir=tmp_path / "d", api_keys=KEYS, workers=1))
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
    }


def test_a_session_cookie_stands_in_for_the_key(guarded: RunningServer) -> None:
    with httpx.Client(base_url=guarded.url) as browser:
        assert browser.get("/ui/session").json() == {"auth_required": True, "signed_in": False}
        assert browser.get("/v1/images").status_code == 401

        refused = browser.post("/ui/session", json={"api_key": "alpha-key"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "Unauthorized"
        assert SESSION_COOKIE not in browser.cookies

        signed_in = browser.post("/ui/session", json={"api_key": "beta-key-456"})
        assert signed_in.json() == {"auth_required": True, "signed_in": True}
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
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


def test_a_session_runs_out_on_the_server_whatever_the_browser_keeps(
    guarded: RunningServer,
) -> None:
    def status(token: str) -> int:
        cookies = {SESSION_COOKIE: token}
        return httpx.get(guarded.url + "/v1/images", cookies=cookies).status_code

    now = int(time.time())
    assert status(session_token("beta-key-456", now - 60)) == 200
    assert status(session_token("beta-key-456", now - SESSION_SECONDS - 60)) == 401
    assert status(session_token("beta-key-456", now + 3600)) == 401  # issued in the future
    assert status(session_token("not-a-key-at-all", now)) == 401
    signed_in = httpx.post(guarded.url + "/ui/session", json={"api_key": "alpha-key-123"})
    first = signed_in.cookies[SESSION_COOKIE]
    assert first.split(".", 1)[0].isdigit()  # the issue time travels with the cookie


def test_a_signed_in_browser_changes_things_only_from_its_own_pages(
    guarded: RunningServer,
) -> None:
    cookies = {SESSION_COOKIE: session_token("alpha-key-123")}
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
