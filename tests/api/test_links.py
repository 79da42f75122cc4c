"""Signed links: an image's original and thumbnails fetched without a key until the link
expires; a link changed in any way, or past its time, is refused with a stable code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from conftest import TEST_SETTINGS, RunningServer, serving
from sightline import Client
from sightline.keys.links import CONTENT
from sightline.settings import Settings
from support.apicheck import assert_error
from support.imagegen import solid

ADMIN = "admin-key-for-links"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(data_dir=tmp_path / "d", api_keys=ADMIN, **TEST_SETTINGS)  # type: ignore[arg-type]
    with serving(settings) as running:
        yield running


@pytest.fixture
def images(guarded: RunningServer) -> list[str]:
    """Two analysed images (their thumbnails made)."""
    with Client(guarded.url, api_key=ADMIN) as client:
        found = [client.upload(solid(color, (300, 200)))["id"] for color in ("red", "blue")]
        for image_id in found:
            assert client.wait(image_id)["status"] == "done"
    return found


def reader_key(server: RunningServer) -> str:
    made = httpx.post(
        server.url + "/v1/keys",
        json={"name": "gallery", "scope": "read"},
        headers={"X-API-Key": ADMIN},
    )
    secret: str = made.json()["secret"]
    return secret


def links_of(server: RunningServer, image_id: str, key: str, **query: int) -> dict[str, object]:
    response = httpx.get(
        f"{server.url}/v1/images/{image_id}/links", params=query, headers={"X-API-Key": key}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    return body


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return parts._replace(query=urlencode({**query, **changes})).geturl()


def test_a_read_key_gets_links_that_work_without_a_key(
    guarded: RunningServer, images: list[str]
) -> None:
    reader = reader_key(guarded)
    found = links_of(guarded, images[0], reader, expires_in=600)
    content = str(found["content"])
    assert content.startswith(f"{guarded.url}/v1/images/{images[0]}/content?")
    original = httpx.get(content)
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
    with Client(guarded.url, api_key=ADMIN) as client:
        assert original.content == client.content(images[0])
    thumbnails = found["thumbnails"]
    assert isinstance(thumbnails, dict) and set(thumbnails) == {"128", "256", "512"}
    for size, url in thumbnails.items():
        thumbnail = httpx.get(url)
        assert thumbnail.status_code == 200, size
        assert thumbnail.headers["content-type"] == "image/webp"
    # A link stands on its own: revoking the key that asked for it leaves it working.
    key_id = httpx.get(guarded.url + "/v1/keys", headers={"X-API-Key": ADMIN}).json()["items"][0]
    httpx.delete(f"{guarded.url}/v1/keys/{key_id['id']}", headers={"X-API-Key": ADMIN})
    assert httpx.get(content).status_code == 200
    remaining = datetime.fromisoformat(str(found["expires_at"])) - datetime.now(UTC)
    assert timedelta(seconds=590) < remaining <= timedelta(seconds=600)


def test_a_changed_link_is_refused(guarded: RunningServer, images: list[str]) -> None:
    found = links_of(guarded, images[0], ADMIN)
    content = str(found["content"])
    thumbnails = found["thumbnails"]
    assert isinstance(thumbnails, dict)
    small = str(thumbnails["128"])
    expires = parse_qs(urlsplit(content).query)["expires"][0]
    for changed in (
        content.replace(images[0], images[1]),  # another image
        with_query(small, size="512"),  # another size
        with_query(small, size="0128"),  # the same size, spelt otherwise
        small.replace(f"/{images[0]}/thumbnail", f"/{images[0]}/content"),  # the original
        with_query(content, expires=str(int(expires) + 3600)),  # a longer life
        with_query(content, signature="A" * 43),
        with_query(content, expires="soon"),
    ):
        assert_error(httpx.get(changed), 403, "InvalidSignature")
    without_signature = content.split("?")[0] + f"?expires={expires}"
    assert_error(httpx.get(without_signature), 401, "Unauthorized")  # then a key is needed


def test_an_expired_link_is_refused(guarded: RunningServer, images: list[str]) -> None:
    past = int(time.time()) - 1
    signature = guarded.sightline.keys.link_signer().sign(images[0], CONTENT, past)
    url = f"{guarded.url}/v1/images/{images[0]}/content?expires={past}&signature={signature}"
    assert_error(httpx.get(url), 403, "LinkExpired")


def test_links_are_only_for_images_that_exist_and_for_a_while(guarded: RunningServer) -> None:
    headers = {"X-API-Key": ADMIN}
    missing = httpx.get(guarded.url + "/v1/images/img_nope/links", headers=headers)
    assert_error(missing, 404, "ImageNotFound")
    for expires_in in ("0", str(7 * 24 * 3600 + 1), "soon"):
        response = httpx.get(
            guarded.url + "/v1/images/img_nope/links",
            params={"expires_in": expires_in},
            headers=headers,
        )
        assert_error(response, 400, "InvalidParameter")
    assert_error(httpx.get(guarded.url + "/v1/images/img_nope/links"), 401, "Unauthorized")
