"""`POST /v1/analyze`: results inline, nothing stored, URLs fetched only where allowed."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest

from conftest import RunningServer
from sightline.settings import Settings
from support.apicheck import assert_error, assert_nothing_stored_and_still_serving
from support.imagegen import solid

RED = solid("red", (64, 48), "PNG")


class ImageHandler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    """A real HTTP server on loopback that the analysis fetches images from."""
    ImageHandler.routes = {
        "/red.png": (200, {"Content-Type": "image/png"}, RED),
        "/moved": (302, {"Location": "/red.png"}, b""),
        "/text": (200, {"Content-Type": "text/plain"}, b"not an image"),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ImageHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def analyze(server: RunningServer, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/analyze", timeout=60, **kwargs)  # type: ignore[arg-type]


def test_raw_bytes_are_analysed_inline_and_not_stored(server: RunningServer) -> None:
    response = analyze(
        server,
        content=RED,
        headers={"Content-Type": "image/png"},
        params={"features": "color,hash"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["image"]["width"] == 64 and body["image"]["height"] == 48
    assert set(body["features"]) == {"color", "hash"}
    assert body["features"]["color"]["status"] == "done"
    assert body["features"]["color"]["result"]["dominant_colors"]
    assert_nothing_stored_and_still_serving(server)


def test_multipart_uses_the_default_feature_set(server: RunningServer) -> None:
    response = analyze(server, files={"file": ("red.png", RED, "image/png")})
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    assert list(features) == server.sightline.service.default_features
    thumbnail = features["thumbnail"]["result"]["sizes"]["128"]
    assert thumbnail["content_type"] == "image/webp" and len(thumbnail["sha256"]) == 64
    assert_nothing_stored_and_still_serving(server)


def test_a_model_feature_answers_inline(server: RunningServer) -> None:
    photo = solid("white", (320, 240))
    response = analyze(
        server, content=photo, headers={"Content-Type": "image/jpeg"}, params={"features": "tags"}
    )
    assert response.status_code == 200, response.text
    tags = response.json()["features"]["tags"]
    assert tags["status"] == "done", tags
    assert tags["result"]["model"]["name"] == "efficientnet-lite0"


def test_two_files_or_none_are_refused(server: RunningServer) -> None:
    files = [("file", ("a.png", RED)), ("file", ("b.png", RED))]
    assert_error(analyze(server, files=files), 400, "TooManyFiles")
    no_file = analyze(server, files={"features": (None, "color")})
    assert_error(no_file, 400, "InvalidParameter")
    assert_nothing_stored_and_still_serving(server)


def test_bad_images_and_features_are_refused(server: RunningServer) -> None:
    raw = {"Content-Type": "image/jpeg"}
    assert_error(analyze(server, content=b"", headers=raw), 400, "EmptyImage")
    assert_error(analyze(server, content=b"garbage" * 50, headers=raw), 400, "InvalidImageFormat")
    assert_error(
        analyze(server, content=RED, headers=raw, params={"features": "nope"}),
        400,
        "InvalidFeature",
    )
    assert_nothing_stored_and_still_serving(server)


def test_loopback_urls_are_refused_by_default(server: RunningServer, origin: str) -> None:
    response = analyze(server, json={"url": f"{origin}/red.png"})
    assert_error(response, 400, "UrlNotAllowed")
    assert_nothing_stored_and_still_serving(server)


def test_bad_url_bodies(server: RunningServer) -> None:
    json_type = {"Content-Type": "application/json"}
    assert_error(analyze(server, content=b"{nope", headers=json_type), 400, "InvalidJson")
    assert_error(analyze(server, json={"link": "x"}), 400, "InvalidParameter")
    assert_error(analyze(server, json={"url": "ftp://example.com/a.png"}), 400, "InvalidUrl")
    assert_error(analyze(server, json={"url": "not a url"}), 400, "InvalidUrl")


class TestAllowedPrivateUrls:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"fetch_allow_private": True})

    def test_a_url_is_fetched_following_redirects(self, server: RunningServer, origin: str) -> None:
        response = analyze(server, json={"url": f"{origin}/moved", "features": ["hash"]})
        assert response.status_code == 200, response.text
        assert set(response.json()["features"]) == {"hash"}
        assert response.json()["image"]["format"] == "PNG"
        assert_nothing_stored_and_still_serving(server)

    def test_upstream_errors_are_the_callers(self, server: RunningServer, origin: str) -> None:
        assert_error(analyze(server, json={"url": f"{origin}/gone"}), 422, "UrlFetchFailed")
        assert_error(analyze(server, json={"url": f"{origin}/text"}), 400, "InvalidImageFormat")
        assert_nothing_stored_and_still_serving(server)

    def test_a_url_body_over_the_limit_is_refused(self, server: RunningServer, origin: str) -> None:
        server.sightline.settings.max_upload_bytes = 100
        assert_error(analyze(server, json={"url": f"{origin}/red.png"}), 413, "ImageTooLarge")


def test_many_files_are_refused_while_reading(server: RunningServer) -> None:
    files = [("file", (f"{i}.png", RED)) for i in range(5)]
    response = analyze(server, files=files)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "TooManyFiles"
    assert_nothing_stored_and_still_serving(server)


def test_an_oversized_json_body_is_refused(server: RunningServer) -> None:
    body = b'{"url": "http://example.com/' + b"a" * 70_000 + b'"}'
    response = analyze(server, content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "PayloadTooLarge")


def test_an_unresolvable_or_malformed_host_is_the_callers_error(server: RunningServer) -> None:
    long_label = "http://" + "a" * 70 + ".com/x.png"
    assert_error(analyze(server, json={"url": long_label}), 400, "InvalidUrl")
    missing = analyze(server, json={"url": "http://no-such-host.invalid/x.png"})
    assert missing.status_code in (400, 422), missing.text
    assert missing.json()["error"]["code"] in {"UrlFetchFailed", "UrlNotAllowed"}
