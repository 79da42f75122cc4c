"""The whole service on both stacks, over HTTP: the embedded default (SQLite, folder, SQLite
queue) and the scaled-out one (PostgreSQL + pgvector, S3, Redis). Every test runs on each."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sightline import ApiError, Client
from support.imagegen import noise, solid


def test_upload_analyse_read_list_and_delete(stack_client: Client) -> None:
    red = stack_client.upload(solid("red"), filename="red.jpg", metadata={"sku": "R-1"})
    blue = stack_client.upload(solid("blue", fmt="PNG"), filename="blue.png")
    for uploaded in (red, blue):
        image = stack_client.wait(uploaded["id"])
        assert image["status"] == "done"
        assert set(image["features"]) == {"metadata", "color", "hash", "thumbnail"}
    assert stack_client.get(red["id"])["metadata"] == {"sku": "R-1"}
    assert stack_client.get(red["id"])["features"]["color"]["result"]["dominant_colors"] == ["red"]
    assert [item["id"] for item in stack_client.list()["items"]] == [blue["id"], red["id"]]
    assert stack_client.content(red["id"]) == solid("red")
    thumbnail = Image.open(io.BytesIO(stack_client.thumbnail(blue["id"], size=128)))
    assert thumbnail.format == "WEBP"

    stack_client.delete(red["id"])
    with pytest.raises(ApiError) as gone:
        stack_client.get(red["id"])
    assert gone.value.code == "ImageNotFound"
    with pytest.raises(ApiError):
        stack_client.content(red["id"])
    assert [item["id"] for item in stack_client.list()["items"]] == [blue["id"]]


def test_identical_bytes_share_one_blob_until_the_last_image_goes(stack_client: Client) -> None:
    first = stack_client.upload(noise(3))
    second = stack_client.upload(noise(3))
    assert second["duplicate"] is True
    assert stack_client.get(second["id"])["duplicate_of"] == first["id"]
    stack_client.delete(first["id"])
    assert stack_client.content(second["id"]) == noise(3)


def test_bad_input_is_refused_and_nothing_is_stored(stack_client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        stack_client.upload_many([solid("green"), b"truncated \xff\xd8"])
    assert (refused.value.status, refused.value.code) == (400, "InvalidImageFormat")
    assert stack_client.list()["items"] == []


def test_text_search_and_similar_images(stack_client: Client) -> None:
    ids = {
        name: stack_client.wait(
            stack_client.upload(picture, filename=f"{name}.png", features=["embedding"])["id"],
            timeout=120,
        )["id"]
        for name, picture in (
            ("sunset-beach", solid((250, 120, 40), fmt="PNG")),
            ("sunset-dunes", solid((245, 125, 45), fmt="PNG")),
            ("forest", noise(5)),
        )
    }
    found = stack_client.search("sunset")
    assert {item["image"]["id"] for item in found["items"]} == {
        ids["sunset-beach"],
        ids["sunset-dunes"],
    }
    similar = stack_client.similar(ids["sunset-beach"], limit=2)
    assert similar["items"][0]["image"]["id"] == ids["sunset-dunes"]
    assert ids["sunset-beach"] not in [item["image"]["id"] for item in similar["items"]]
