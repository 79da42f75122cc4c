"""Searching by meaning through the API: similar images by embedding, text-to-image by ConSE."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from apicheck import assert_error
from conftest import RunningServer
from imagegen import encode
from sightline import Client

FEATURES = ["tags", "embedding", "semantic"]


def _photo(image: np.ndarray) -> bytes:
    return encode(Image.fromarray(np.asarray(image)).convert("RGB"), "JPEG")


@pytest.fixture
def photos(client: Client) -> dict[str, str]:
    """Four unlike photos plus a mirrored, recoloured copy of the cat, analysed."""
    cat = Image.fromarray(np.asarray(data.chelsea()))
    sources = {
        "cat": _photo(data.chelsea()),
        "coffee": _photo(data.coffee()),
        "rocket": _photo(data.rocket()),
        "astronaut": _photo(data.astronaut()),
        "cat-mirrored": encode(ImageOps.autocontrast(ImageOps.mirror(cat)), "JPEG"),
    }
    ids = {name: client.upload(raw, features=FEATURES)["id"] for name, raw in sources.items()}
    for image_id in ids.values():
        assert client.wait(image_id, timeout=90)["status"] == "done"
    return ids


def _names(ids: dict[str, str], answer: dict) -> list[str]:
    by_id = {image_id: name for name, image_id in ids.items()}
    return [by_id[item["image"]["id"]] for item in answer["items"]]


def test_similar_images_come_nearest_first_and_never_include_the_image(
    client: Client, photos: dict[str, str]
) -> None:
    answer = client.similar(photos["cat"], limit=3)
    assert answer["method"] == "embedding" and answer["feature"] == "embedding"
    names = _names(photos, answer)
    assert names[0] == "cat-mirrored" and "cat" not in names and len(names) == 3
    scores = [item["score"] for item in answer["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.8

    client.delete(photos["cat-mirrored"])
    assert "cat-mirrored" not in _names(photos, client.similar(photos["cat"], limit=4))


def test_text_queries_find_images_by_meaning_without_the_words(
    client: Client, photos: dict[str, str]
) -> None:
    for query, expected in (("kitten", "cat"), ("hot drink", "coffee"), ("spaceship", "rocket")):
        answer = client.search(query, mode="semantic", limit=3)
        assert answer["method"] == "conse"
        assert _names(photos, answer)[0].startswith(expected), (query, answer["items"])
    # The words are in no result: the full-text index finds nothing for them.
    assert client.search("kitten")["items"] == []


def test_semantic_search_refuses_what_it_cannot_do(server: RunningServer, client: Client) -> None:
    url = f"{server.url}/v1/search"
    assert_error(httpx.get(url, params={"mode": "semantic"}), 400, "InvalidQuery")
    assert_error(
        httpx.get(url, params={"mode": "semantic", "q": "cat", "tag": "cat"}),
        400,
        "InvalidParameter",
    )
    image = client.upload(_photo(data.coffee()), features=["hash"])
    client.wait(image["id"])
    similar = f"{server.url}/v1/images/{image['id']}/similar"
    assert_error(httpx.get(similar), 503, "SearchUnavailable")
    assert_error(
        httpx.get(f"{server.url}/v1/images/img_000000000000ffffffffffffffff/similar"),
        404,
        "ImageNotFound",
    )
    assert_error(httpx.get(similar, params={"feature": "nope"}), 400, "InvalidParameter")
