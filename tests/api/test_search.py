"""`GET /v1/search` over real HTTP: words in tags, OCR text and labels, filters, cursor pages and
errors; results seeded into the catalog, and once from the real `tags` and `read` features."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
from PIL import Image
from skimage import data

from conftest import RunningServer
from sightline import Client
from sightline.storage.records import FeatureState, FeatureStatus
from support.documents import POLICY_NUMBER, claim_form
from support.imagegen import encode, noise, solid

# Whole results, as the analyzers store them: documents take the words their models declare.
HEADER: dict[str, Any] = {"model": {"name": "net", "version": "1"}, "width": 64, "height": 48}
TABBY = {
    **HEADER,
    "tags": [
        {"name": "cat", "confidence": 0.93, "source": "imagenet", "broader": ["animal"]},
        {
            "name": "tabby cat",
            "confidence": 0.6,
            "source": "imagenet",
            "broader": ["cat", "animal"],
        },
    ],
    "classes": [{"name": "tabby cat", "wnid": "n02123045", "confidence": 0.6}],
}


def read(*texts: str) -> dict[str, Any]:
    box = {"x": 0, "y": 0, "w": 10, "h": 10}
    found = [{"text": t, "confidence": 0.99, "polygon": [], "box": box, "words": []} for t in texts]
    orientation = {"angle": 0, "confidence": 1.0}
    return {**HEADER, "orientation": orientation, "text": "\n".join(texts), "lines": found}


def predicted(*labels: str) -> dict[str, Any]:
    return {
        **HEADER,
        "classifier": {"id": "cls_1", "name": "shop", "version": 1},
        "kind": "multiclass",
        "threshold": 0.5,
        "labels": [{"name": label, "confidence": 0.9} for label in labels],
        "predicted": list(labels),
    }


class Keeper:
    def ensure(self, sha256: str) -> None: ...

    def discard(self, sha256: str) -> None: ...


def upload(client: Client, picture: bytes, **options: Any) -> str:
    image = client.wait(client.upload(picture, **options)["id"], timeout=90)
    assert image["status"] == "done", image["features"]
    image_id: str = image["id"]
    return image_id


def seed(server: RunningServer, image_id: str, feature: str, result: dict[str, Any]) -> None:
    """Store a feature's result as the worker would, without running its model."""
    outcome = FeatureState(feature, FeatureStatus.DONE, feature, "1", result)
    server.sightline.stores.images.finish_features(
        image_id, [outcome], [], Keeper(), f"seed-{image_id}-{feature}"
    )


def search(server: RunningServer, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/v1/search", params=params, timeout=30)


def found(server: RunningServer, **params: Any) -> list[str]:
    response = search(server, **params)
    assert response.status_code == 200, response.text
    return [item["image"]["id"] for item in response.json()["items"]]


def test_search_finds_images_by_tags_text_and_labels(server: RunningServer, client: Client) -> None:
    cat = upload(client, noise(1), filename="pet.png")
    form = upload(client, noise(2))
    dress = upload(client, noise(3))
    seed(server, cat, "tags", TABBY)
    seed(server, form, "read", read(f"Policy Number: {POLICY_NUMBER}"))
    seed(server, dress, "custom:shop", predicted("dress"))

    response = search(server, q="cat")
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == "text"
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert item["score"] > 0
    assert item["image"]["id"] == cat
    assert item["image"]["filename"] == "pet.png"
    assert item["image"]["features"]["tags"]["result"] == TABBY
    assert item["image"]["links"]["self"] == f"/v1/images/{cat}"

    assert found(server, q="animal") == [cat]
    assert found(server, q=POLICY_NUMBER) == [form]
    assert found(server, q="Dresses") == [dress]
    # No image has both words: either will do.
    assert sorted(found(server, q="cat dress")) == sorted([cat, dress])
    assert found(server, label="dress") == [dress]
    assert found(server, tag="animal") == [cat]
    assert found(server) == [dress, form, cat]  # no query: every image, newest first


def test_filters_over_http(server: RunningServer, client: Client) -> None:
    blue = upload(client, solid("blue", (80, 60), fmt="PNG"))
    red = upload(client, solid("red", (640, 480)))
    for image_id in (blue, red):
        seed(server, image_id, "tags", TABBY)

    assert found(server, q="cat", where="color.dominant_color_background:blue") == [blue]
    assert found(server, where=["color.dominant_color_background:red"]) == [red]
    assert found(server, q="cat", content_type="image/png") == [blue]
    assert found(server, tag="cat", min_width=100) == [red]
    assert found(server, max_height=100, status="done") == [blue]
    assert found(server, uploaded_after="2000-01-01T00:00:00Z", max_size=0) == []


def test_cursor_pages_over_http(server: RunningServer, client: Client) -> None:
    ids = [upload(client, noise(seed)) for seed in range(5)]
    for image_id in ids:
        seed(server, image_id, "tags", TABBY)
    for params in ({"q": "tabby"}, {}):
        pages: list[list[str]] = []
        cursor = None
        while True:
            response = search(server, limit=2, **params, **({"cursor": cursor} if cursor else {}))
            body = response.json()
            pages.append([item["image"]["id"] for item in body["items"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert [len(page) for page in pages] == [2, 2, 1]
        assert sorted(image_id for page in pages for image_id in page) == sorted(ids)
    assert found(server, limit=5) == ids[::-1]


def test_answers_say_how_many_matched_how_and_which_words_were_ignored(
    server: RunningServer, client: Client
) -> None:
    cats = [upload(client, noise(n)) for n in range(3)]
    for image_id in cats:
        seed(server, image_id, "tags", TABBY)
    sofa = upload(client, noise(9))
    seed(server, sofa, "read", read("SOFA SALE"))
    first = search(server, q="a cat", limit=2).json()
    assert (first["total"], first["strategy"], first["ignored_words"]) == (3, "all_words", ["a"])
    second = search(server, q="a cat", limit=2, cursor=first["next_cursor"]).json()
    assert second["total"] == 3 and len(second["items"]) == 1 and second["next_cursor"] is None
    # No image shows a cat on a sofa: any of the words, page after page.
    pages = []
    query = {"q": "the cat on the sofa", "limit": 3}
    while True:
        body = search(server, **query).json()
        assert (body["method"], body["strategy"], body["total"]) == ("text", "any_words", 4)
        assert body["ignored_words"] == ["the", "on"]
        pages.append([item["image"]["id"] for item in body["items"]])
        if body["next_cursor"] is None:
            break
        query["cursor"] = body["next_cursor"]
    assert sorted(image_id for page in pages for image_id in page) == sorted([*cats, sofa])
    # A number that matches nothing asks for exactly that: not answered by meaning.
    missing = search(server, q="POL-2024-000000 claim").json()
    assert (missing["items"], missing["total"], missing["strategy"]) == ([], 0, "any_words")
    listing = search(server, limit=2).json()
    assert (listing["total"], listing["strategy"], listing["ignored_words"]) == (None, None, [])


def test_a_deleted_image_is_no_longer_found(server: RunningServer, client: Client) -> None:
    image_id = upload(client, noise(7))
    seed(server, image_id, "tags", TABBY)
    assert found(server, q="cat") == [image_id]
    client.delete(image_id)
    assert found(server, q="cat") == []


def test_bad_searches_are_refused_with_the_error_shape(server: RunningServer) -> None:
    for params, code in (
        ({"q": '"unbalanced'}, "InvalidQuery"),
        ({"q": "&&"}, "InvalidQuery"),
        ({"where": "image_type=photo"}, "InvalidParameter"),
        ({"where": "quality.score>=high"}, "InvalidParameter"),
        ({"q": "cat", "cursor": "garbage"}, "InvalidParameter"),
        ({"limit": 0}, "InvalidParameter"),
        ({"limit": 201}, "InvalidParameter"),
        ({"min_width": -1}, "InvalidParameter"),
        ({"uploaded_after": "2026-01-01T00:00:00"}, "InvalidParameter"),
        ({"status": "sleeping"}, "InvalidParameter"),
    ):
        response = search(server, **params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == code, params


def test_real_tags_and_text_are_searchable(server: RunningServer, client: Client) -> None:
    cat = upload(
        client, encode(Image.fromarray(np.asarray(data.chelsea())), "JPEG"), features=["tags"]
    )
    form = upload(client, encode(claim_form().image, "PNG"), features=["read"])
    assert found(server, q="cat") == [cat]
    assert found(server, q="animal") == [cat]
    assert found(server, tag="cat") == [cat]
    assert found(server, q=POLICY_NUMBER) == [form]
    assert found(server, q=f'"policy number" {POLICY_NUMBER}') == [form]
