"""The client against a real server: typed answers, features that never crash attribute
access, batched uploads, waiting for many images, and the async client."""

from __future__ import annotations

import asyncio

import httpx

from conftest import RunningServer
from sightline import AsyncClient, Client
from sightline.client.models import ColorResult, Image, UploadedImage
from support.imagegen import noise, solid


class Counting(httpx.HTTPTransport):
    """The real transport, counting the requests it sends by method and path."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return super().handle_request(request)


def test_answers_are_typed_and_read_like_json(client: Client) -> None:
    created = client.upload(solid("blue"), filename="sky.jpg", metadata={"album": "trip"})
    assert isinstance(created, UploadedImage) and created.duplicate is False

    image = client.wait(created)
    assert isinstance(image, Image) and image.status == "done" and image.finished
    assert image.id == image["id"] == created.id
    assert image.filename == "sky.jpg" and image.metadata == {"album": "trip"}
    assert image.width == 64 and image.size == len(solid("blue"))
    color = image.result("color")
    assert isinstance(color, ColorResult) and color.dominant_colors
    assert color.dominant_colors == image["features"]["color"]["result"]["dominant_colors"]
    assert image.feature("color").ok and image.links is not None

    page = client.list(status="done")
    assert [item.id for item in page.items] == [item["id"] for item in page["items"]]
    assert [found.id for found in client.iter_images()] == [image.id]


def test_a_skipped_or_absent_feature_never_crashes(client: Client) -> None:
    # No object detector ships: `objects` is skipped; `tags` and `read` were not asked for.
    image = client.wait(client.upload(solid("green"), features=["color", "objects"]))

    objects = image.feature("objects")
    assert objects.skipped and not objects.ok and "detector" in (objects.reason or "")
    assert image.result("objects") is None
    assert image.tags == [] and image.text == ""
    assert image.feature("tags").reason and image.result("tags") is None
    assert image["features"]["objects"]["status"] == "skipped"


def test_upload_many_splits_into_batches_the_server_takes(server: RunningServer) -> None:
    transport = Counting()
    files = [noise(seed, size=(16, 12)) for seed in range(103)]
    with Client(server.url, transport=transport, timeout=60) as client:
        images = client.upload_many(files, features=["metadata"])
        assert len(images) == 103 and len({image.id for image in images}) == 103
        assert [image.filename for image in images] == [f"image-{n}" for n in range(103)]
        assert [image.size for image in images] == [len(data) for data in files]
        assert transport.sent.count(("POST", "/v1/images")) == 2  # 100 + 3

        small = client.upload_many(files[:4], features=["metadata"], batch_bytes=1)
        assert [image.size for image in small] == [len(data) for data in files[:4]]
        assert transport.sent.count(("POST", "/v1/images")) == 2 + 4  # one file a batch


def test_wait_all_returns_every_image_in_order(client: Client) -> None:
    images = client.upload_many([noise(seed) for seed in range(6)])
    seen: list[tuple[int, int]] = []

    finished = client.wait_all(
        images, timeout=60, progress=lambda n, total: seen.append((n, total))
    )

    assert [image.id for image in finished] == [image.id for image in images]
    assert all(image.status == "done" and image.result("color") for image in finished)
    assert seen[-1] == (6, 6) and [n for n, _total in seen] == list(range(1, 7))
    assert client.wait_all([image.id for image in images[:2]]) == finished[:2]


def test_async_client_has_the_same_calls(server: RunningServer) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, timeout=60) as client:
            created = await client.upload(solid("red"), filename="red.jpg")
            many = await client.upload_many([noise(1), noise(2)])
            finished = await client.wait_all([created, *many], timeout=60)
            assert [image.id for image in finished] == [created.id, *(i.id for i in many)]
            assert all(image.result("color") for image in finished)
            image = await client.get(created.id)
            assert image.filename == "red.jpg" and image["status"] == "done"
            found = [image.id async for image in client.iter_images(limit=2)]
            assert sorted(found) == sorted(image.id for image in finished)
            await client.delete(created.id)
            assert len((await client.list()).items) == 2

    asyncio.run(scenario())
