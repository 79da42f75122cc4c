"""Model features through the whole pipeline: upload, queue, worker, stored results."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage import data

from sightline import Client
from support.documents import POLICY_NUMBER, claim_form, word_recall, words
from support.imagegen import encode


def test_an_uploaded_claim_form_is_read_by_the_workers(client: Client) -> None:
    form = claim_form()
    uploaded = client.upload(encode(form.image, "PNG"), features=["read", "faces", "image_type"])
    image = client.wait(uploaded["id"], timeout=90)
    assert image["status"] == "done", image["features"]
    read = image["features"]["read"]
    assert read["analyzer"] == "read" and read["version"]
    assert POLICY_NUMBER in read["result"]["text"]
    assert word_recall(form.words, words(read["result"]["text"])) >= 0.95
    assert image["features"]["faces"]["result"]["faces"] == []
    assert image["features"]["image_type"]["result"]["type"] == "document"


def test_a_photo_gets_tags_faces_people_and_a_stored_embedding(client: Client) -> None:
    photo = encode(Image.fromarray(np.asarray(data.astronaut())), "JPEG")
    uploaded = client.upload(photo, features=["tags", "embedding", "faces", "people"])
    image = client.wait(uploaded["id"], timeout=90, include_vectors=True)
    assert image["status"] == "done", image["features"]
    features = {name: entry["result"] for name, entry in image["features"].items()}
    assert len(features["faces"]["faces"]) == 1
    assert len(features["people"]["people"]) == 1
    assert len(features["embedding"]["vector"]) == 1280
    assert features["tags"]["classes"]
    # `tags` reused the faces the same job found: people lead, before ImageNet's helmet.
    first = features["tags"]["tags"][0]
    assert first["name"] == "person" and first["source"] in ("faces", "people")
    again = client.get(
        uploaded["id"], include_vectors=True
    )  # results are stored, not recomputed per read
    assert again["features"]["embedding"]["result"]["vector"] == features["embedding"]["vector"]
