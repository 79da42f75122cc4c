"""`/v1/faces` and `/v1/people` over HTTP, with the real models: search by a stored face or a
picture, clusters reviewed (named, split, merged), people enrolled and renamed, "not the same",
deletion, bad requests answered with their codes; and the descriptors left out of image answers
unless asked for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageEnhance
from skimage import data

from conftest import TEST_SETTINGS, serving
from sightline import Client
from sightline.settings import Settings
from support.apicheck import assert_error
from support.faces import wait_grouped
from support.imagegen import encode

ASTRONAUT = Image.fromarray(data.astronaut())
FLIPPED = ASTRONAUT.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
CAMERAMAN = Image.fromarray(data.camera()).convert("RGB")


@dataclass
class Api:
    url: str
    client: Client

    def upload(self, image: Image.Image) -> str:
        image_id: str = self.client.upload(encode(image, "PNG"))["id"]
        assert self.client.wait(image_id, timeout=120)["status"] == "done"
        wait_grouped(self.url, image_id)
        return image_id

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.url + path, params=params, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: Any = None, status: int = 200, **kwargs: Any) -> Any:
        response = httpx.post(self.url + path, json=body, timeout=60, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def face_of(self, image_id: str) -> dict[str, Any]:
        (face,) = self.get("/v1/faces", image_id=image_id)["items"]
        return dict(face)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    values = TEST_SETTINGS | {"default_features": "faces,face_embedding", "job_lease_seconds": 30}
    settings = Settings(data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]
    with serving(settings) as running, Client(running.url, timeout=60) as client:
        yield Api(running.url, client)


def test_faces_are_searched_reviewed_named_and_deleted(api: Api) -> None:
    original, copy, other = (api.upload(image) for image in (ASTRONAUT, FLIPPED, CAMERAMAN))
    face, copied, stranger = (api.face_of(image_id) for image_id in (original, copy, other))
    assert face["cluster_id"] == copied["cluster_id"] != stranger["cluster_id"]
    clusters = api.get("/v1/faces/clusters")["items"]
    assert sorted(cluster["faces"] for cluster in clusters) == [1, 2]

    by_face = api.post("/v1/faces/search", {"face_id": face["id"]})
    assert by_face["max_distance"] == 0.35
    [[match]] = [found["matches"] for found in by_face["faces"]]
    assert match["face"]["id"] == copied["id"] and 0 <= match["distance"] < 0.35
    by_picture = api.post(
        "/v1/faces/search", files={"file": ("q.jpg", encode(ASTRONAUT, "JPEG", quality=30))}
    )
    (query,) = by_picture["faces"]
    assert {m["face"]["id"] for m in query["matches"]} == {face["id"], copied["id"]}
    raw = api.post(
        "/v1/faces/search",
        content=encode(CAMERAMAN, "PNG"),
        headers={"Content-Type": "image/png"},
        params={"max_distance": 0.2},
    )
    assert raw["max_distance"] == 0.2
    assert [m["face"]["id"] for m in raw["faces"][0]["matches"]] == [stranger["id"]]

    person = api.post(f"/v1/faces/clusters/{face['cluster_id']}/name", {"name": "Eileen"})
    assert person["faces"] == 2 and person["images"] == 2
    assert api.get("/v1/people")["items"] == [person]
    images = api.get(f"/v1/people/{person['id']}/images")["items"]
    assert {image["id"] for image in images} == {original, copy}
    later = api.upload(ImageEnhance.Brightness(ASTRONAUT).enhance(1.4))
    assert api.face_of(later)["person_id"] == person["id"]  # matched as it was analysed

    renamed = httpx.patch(f"{api.url}/v1/people/{person['id']}", json={"name": "Eileen Collins"})
    assert renamed.json()["name"] == "Eileen Collins"

    apart = api.post(f"/v1/faces/{copied['id']}/not-the-same")
    assert apart["person_id"] is None and apart["cluster_id"] != face["cluster_id"]
    merged = api.post(
        f"/v1/faces/clusters/{face['cluster_id']}/merge", {"cluster_ids": [apart["cluster_id"]]}
    )
    assert merged["faces"] == 3
    split = api.post(f"/v1/faces/clusters/{face['cluster_id']}/split", {"face_ids": [copied["id"]]})
    assert split["faces"] == 1 and split["sample"] == [copied["id"]]

    assert httpx.delete(f"{api.url}/v1/faces/{copied['id']}").status_code == 204
    assert_error(httpx.get(f"{api.url}/v1/faces/{copied['id']}"), 404, "FaceNotFound")
    assert httpx.delete(f"{api.url}/v1/people/{person['id']}").status_code == 204
    assert_error(httpx.get(f"{api.url}/v1/people/{person['id']}"), 404, "PersonNotFound")
    assert [f["id"] for f in api.get("/v1/faces")["items"]] == [stranger["id"]]


def test_image_answers_leave_the_descriptors_out_unless_asked(api: Api) -> None:
    image_id = api.upload(ASTRONAUT)
    plain = api.get(f"/v1/images/{image_id}")["features"]["face_embedding"]["result"]
    assert plain["dimensions"] == 1024 and "vector" not in plain["faces"][0]
    full = api.get(f"/v1/images/{image_id}", include="vectors")
    assert len(full["features"]["face_embedding"]["result"]["faces"][0]["vector"]) == 1024


def test_bad_face_requests_get_their_codes(api: Api) -> None:
    url = api.url
    assert_error(
        httpx.post(f"{url}/v1/faces/search", json={"face_id": "face_x"}), 404, "FaceNotFound"
    )
    assert_error(
        httpx.post(
            f"{url}/v1/faces/search",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "InvalidJson",
    )
    assert_error(
        httpx.post(f"{url}/v1/faces/search", content=b"", headers={"Content-Type": "image/png"}),
        400,
        "EmptyImage",
    )
    assert_error(httpx.get(f"{url}/v1/faces/clusters/cluster_x"), 404, "ClusterNotFound")
    image_id = api.upload(ASTRONAUT)
    cluster = api.face_of(image_id)["cluster_id"]
    both = {"name": "A", "person_id": "person_x"}
    assert_error(
        httpx.post(f"{url}/v1/faces/clusters/{cluster}/name", json=both), 400, "InvalidParameter"
    )
    assert_error(
        httpx.post(f"{url}/v1/people", json={"name": "A", "face_ids": ["face_x"]}),
        404,
        "FaceNotFound",
    )
    assert_error(httpx.post(f"{url}/v1/people", json={"name": ""}), 400, "InvalidParameter")
    assert_error(httpx.get(f"{url}/v1/people/person_x/images"), 404, "PersonNotFound")
    assert api.get("/v1/people")["items"] == []  # nothing was half made
