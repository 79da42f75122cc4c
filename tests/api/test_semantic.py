"""Searching by meaning through the API: similar images by embedding, text-to-image by ConSE
or by a user-added clip model."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from conftest import RunningServer, serve, serving
from sightline import Client
from sightline.app import Sightline
from sightline.client.models import SearchPage, SimilarPage
from sightline.models.manifest import add_user_model
from sightline.settings import Settings
from support.apicheck import assert_error
from support.imagegen import encode
from support.onnxnets import pooled_linear, text_encoder, word_tokenizer, write_manifest

# With every feature `tags` reuses, as the default set has them: semantic vectors carry their
# concept words, as the calibration of the scores assumes.
FEATURES = ["tags", "embedding", "semantic", "faces", "people", "read", "image_type", "color"]
COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}


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


def _names(ids: dict[str, str], answer: SearchPage | SimilarPage) -> list[str]:
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
    # The words are in no result: text mode finds nothing for them, then answers by meaning.
    fallback = client.search("a kitten", limit=3)
    assert (fallback["strategy"], fallback["total"], fallback["method"]) == (
        "semantic",
        None,
        "conse",
    )
    assert fallback["ignored_words"] == ["a"] and _names(photos, fallback)[0].startswith("cat")
    # Not with a filter, which meaning cannot apply.
    narrowed = client.search("kitten", content_type="image/jpeg")
    assert (narrowed["items"], narrowed["strategy"], narrowed["total"]) == ([], "all_words", 0)


def test_semantic_scores_are_calibrated_and_clear_non_matches_left_out(
    server: RunningServer, settings: Settings, client: Client, photos: dict[str, str]
) -> None:
    answer = client.search("hot drink", mode="semantic", limit=5)
    assert answer["threshold"] == 0.5 and answer["strategy"] == "semantic"
    assert answer["total"] is None
    # The cat, rocket and astronaut are no hot drink: under the threshold, they are left out.
    assert _names(photos, answer) == ["coffee"], answer["items"]
    assert 0.5 <= answer["items"][0]["score"] <= 1

    everything = client.search("hot drink", mode="semantic", limit=5, min_score=0)
    assert everything["threshold"] == 0
    assert sorted(_names(photos, everything)) == sorted(photos)
    scores = [item["score"] for item in everything["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= score <= 1 for score in scores) and scores[-1] < 0.5

    strict = client.search("hot drink", mode="semantic", limit=5, min_score=0.99)
    assert strict["items"] == [] and strict["threshold"] == 0.99

    # The server's default comes from the setting (a second server on the same data).
    with serving(settings.model_copy(update={"semantic_threshold": 0.0}), run_workers=False) as lax:
        with Client(lax.url) as other:
            assert len(other.search("hot drink", mode="semantic", limit=5)["items"]) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "semantic", "q": "cat", "min_score": "1.5"},
        {"mode": "semantic", "q": "cat", "min_score": "-0.1"},
        {"mode": "semantic", "q": "cat", "min_score": "high"},
        {"q": "cat", "min_score": "0.5"},  # text search has no calibrated score
    ],
)
def test_min_score_is_a_number_from_0_to_1_for_semantic_search(
    server: RunningServer, params: dict[str, str]
) -> None:
    assert_error(httpx.get(f"{server.url}/v1/search", params=params), 400, "InvalidParameter")


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


def test_a_user_clip_model_answers_text_queries_when_installed(
    tmp_path: Path, settings: Settings
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    # A three-colour "clip" pair: the image side pools RGB, each word embeds along one axis.
    pooled_linear(
        source / "image.onnx", np.eye(3, dtype=np.float32), np.zeros(3), width=8, height=8
    )
    text_encoder(
        source / "text.onnx",
        np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32),
    )
    word_tokenizer(source / "tokenizer.json", ["red", "green", "blue"])
    model_dir = tmp_path / "models"
    add_user_model(
        model_dir,
        write_manifest(
            source,
            name="colours",
            kind="clip",
            model="image.onnx",
            text_model="text.onnx",
            tokenizer="tokenizer.json",
            text_max_length=4,
            input={"width": 8, "height": 8},
        ),
    )
    app = Sightline(settings.model_copy(update={"model_dir": model_dir}))
    try:
        with serve(app) as running, Client(running.url) as api:
            ids = {}
            for name, colour in (
                ("red", (230, 20, 20)),
                ("green", (20, 230, 20)),
                ("blue", (20, 20, 230)),
            ):
                image = Image.new("RGB", (32, 32), colour)
                ids[name] = api.upload(encode(image, "PNG"), features=["model:colours"])["id"]
                assert api.wait(ids[name])["status"] == "done"
            for query in ("red", "green", "blue"):
                answer = api.search(query, mode="semantic", limit=3)
                assert answer["method"] == "clip"
                assert _names(ids, answer)[0] == query
                # No measured calibration: the cosine clipped to 0-1, nothing left out.
                assert answer["threshold"] == 0 and len(answer["items"]) == 3
                assert all(0 <= item["score"] <= 1 for item in answer["items"])
    finally:
        app.close()
