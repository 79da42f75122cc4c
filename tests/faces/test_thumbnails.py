"""`GET /v1/faces/{id}/thumbnail`: the face cut from its image as a small square, from the
image's thumbnail when the face is large enough in it, else from the original, never enlarged;
bad sizes and other collections' faces refused."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from skimage import data

from conftest import TEST_SETTINGS, serving
from sightline import Client
from sightline.faces.thumbnails import MARGIN
from sightline.settings import Settings
from support.apicheck import assert_error
from support.imagegen import encode

ASTRONAUT = Image.fromarray(data.astronaut())


@dataclass
class Api:
    url: str
    client: Client

    def face_in(self, image: Image.Image, features: str, collection: str = "default") -> Any:
        params = {"features": features, "collection": collection}
        uploaded = httpx.post(
            f"{self.url}/v1/images",
            params=params,
            content=encode(image, "PNG"),
            headers={"Content-Type": "image/png"},
            timeout=60,
        )
        assert uploaded.status_code in (201, 202), uploaded.text
        image_id = uploaded.json()["images"][0]["id"]
        assert self.client.wait(image_id, timeout=120)["status"] == "done"
        answer = httpx.get(
            f"{self.url}/v1/faces",
            params={"image_id": image_id, "collection": collection},
            timeout=60,
        )
        (face,) = answer.json()["items"]
        return face

    def thumbnail(self, face_id: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}/v1/faces/{face_id}/thumbnail", params=params, timeout=60)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("thumbnails")
    settings = Settings(data_dir=folder / "data", **TEST_SETTINGS)  # type: ignore[arg-type]
    with serving(settings) as running, Client(running.url, timeout=60) as client:
        yield Api(running.url, client)


def picture(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "WEBP"
    return image.convert("RGB")


def expected_crop(source: Image.Image, box: dict[str, int], side: int) -> Image.Image:
    """The face's square with its margin, cut from the picture independently of the server."""
    half = max(box["w"], box["h"]) * (1 + 2 * MARGIN) / 2
    centre_x, centre_y = box["x"] + box["w"] / 2, box["y"] + box["h"] / 2
    square = (centre_x - half, centre_y - half, centre_x + half, centre_y + half)
    return source.crop(square).resize((side, side))


def difference(a: Image.Image, b: Image.Image) -> float:
    return float(
        np.abs(np.asarray(a, np.float32) - np.asarray(b.resize(a.size), np.float32)).mean()
    )


@pytest.mark.parametrize(
    "features",
    ["faces,face_embedding,thumbnail", "faces,face_embedding"],
    ids=["thumb", "original"],
)
def test_the_thumbnail_is_the_face_from_either_source(api: Api, features: str) -> None:
    large = ASTRONAUT.resize((2048, 2048), Image.Resampling.BICUBIC)
    face = api.face_in(large, features)
    shown = picture(api.thumbnail(face["id"], size=128))
    assert shown.size == (128, 128)
    face_crop = expected_crop(large, face["box"], 128)
    elsewhere = large.crop((0, 1536, 512, 2048)).resize((128, 128))  # the flag, below
    assert difference(shown, face_crop) < 12 < difference(shown, elsewhere)


def test_a_small_face_is_not_enlarged(api: Api) -> None:
    face = api.face_in(ASTRONAUT, "faces,face_embedding,thumbnail")
    shown = picture(api.thumbnail(face["id"], size=256))
    side = round(max(face["box"]["w"], face["box"]["h"]) * (1 + 2 * MARGIN))
    assert shown.width == shown.height
    assert abs(shown.width - side) <= 1 < 256 - side
    assert difference(shown, expected_crop(ASTRONAUT, face["box"], shown.width)) < 12


def test_bad_sizes_unknown_faces_and_other_collections_are_refused(api: Api) -> None:
    face = api.face_in(ASTRONAUT, "faces,face_embedding", collection="claims")
    assert_error(api.thumbnail(face["id"], size=100), 400, "InvalidParameter")
    assert_error(api.thumbnail("face_missing"), 404, "FaceNotFound")
    assert_error(api.thumbnail(face["id"], collection="studio"), 404, "FaceNotFound")
    assert picture(api.thumbnail(face["id"], collection="claims")).width <= 128
