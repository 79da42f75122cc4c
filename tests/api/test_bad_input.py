"""Every kind of bad input: a 4xx with a stable code, nothing stored, the service still serving."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from conftest import RunningServer, serving
from sightline.settings import Settings
from support.apicheck import assert_error, assert_nothing_stored_and_still_serving
from support.imagegen import encode, noise, png_bomb, solid

JPEG = solid("red", (64, 64))


def post_raw(
    server: RunningServer, data: bytes, content_type: str = "image/jpeg"
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/images", content=data, headers={"Content-Type": content_type}, timeout=30
    )


def truncated_png() -> bytes:
    data = noise(5, size=(200, 200), fmt="PNG")
    return data[: len(data) * 2 // 3]


def corrupt_jpeg() -> bytes:
    data = bytearray(noise(5, size=(200, 200), fmt="JPEG"))
    data[200:600] = bytes(range(256)) + bytes(144)  # scramble the entropy-coded data
    return bytes(data[: len(data) - 100])


BAD_FILES = {
    "zero bytes": (b"", 400, "EmptyImage"),
    "truncated jpeg": (JPEG[: len(JPEG) // 2], 400, "InvalidImageFormat"),
    "truncated png": (truncated_png(), 400, "InvalidImageFormat"),
    "corrupt jpeg": (corrupt_jpeg(), 400, "InvalidImageFormat"),
    "text named like an image": (b"hello, I am not a picture\n" * 20, 400, "InvalidImageFormat"),
    "html": (b"<!doctype html><html><body>hi</body></html>", 400, "InvalidImageFormat"),
    "unsupported format (TGA)": (
        encode(Image.new("RGB", (8, 8)), "TGA"),
        400,
        "InvalidImageFormat",
    ),
    "unsupported format (ICO)": (
        encode(Image.new("RGB", (16, 16)), "ICO"),
        400,
        "InvalidImageFormat",
    ),
    "unsupported format (PDF)": (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
        400,
        "InvalidImageFormat",
    ),
    "decompression bomb": (png_bomb(), 413, "ImageDimensionsTooLarge"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_raw(server: RunningServer, case: str) -> None:
    data, status, code = BAD_FILES[case]
    assert_error(post_raw(server, data), status, code)
    assert_nothing_stored_and_still_serving(server)


@pytest.mark.parametrize("case", ["zero bytes", "truncated jpeg", "decompression bomb"])
def test_bad_file_multipart(server: RunningServer, case: str) -> None:
    data, status, code = BAD_FILES[case]
    response = httpx.post(f"{server.url}/v1/images", files={"file": ("photo.jpg", data)})
    assert_error(response, status, code)
    error = response.json()["error"]
    assert (error["details"]["file_index"], error["details"]["filename"]) == (0, "photo.jpg")
    # One file: its message is the reason alone, without "File 1 (photo.jpg): " before it.
    assert not error["message"].startswith("File ")
    assert_nothing_stored_and_still_serving(server)


def test_one_bad_file_rejects_the_whole_batch(server: RunningServer) -> None:
    files = [
        ("file", ("good1.png", noise(1), "image/png")),
        ("file", ("broken.jpg", JPEG[:100], "image/jpeg")),
        ("file", ("good2.png", noise(2), "image/png")),
    ]
    response = httpx.post(f"{server.url}/v1/images", files=files)
    assert_error(response, 400, "InvalidImageFormat")
    details = response.json()["error"]["details"]
    assert (details["file_index"], details["filename"]) == (1, "broken.jpg")
    assert response.json()["error"]["message"].startswith("File 2 (broken.jpg): ")
    assert_nothing_stored_and_still_serving(server)


@pytest.fixture
def small_limits(tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(
        data_dir=tmp_path / "small",
        max_upload_bytes=5_000,
        max_pixels=10_000,
        max_files_per_request=2,
        max_request_bytes=20_000,
        max_metadata_bytes=64,
        workers=1,
        poll_interval_seconds=0.02,
        # The model-free features: closing would otherwise wait for the real models' analysis
        # of the upload that shows the service still serving.
        default_features="metadata,color,hash,thumbnail",
    )
    with serving(settings) as running:
        yield running


def test_over_the_byte_limit(small_limits: RunningServer) -> None:
    big = noise(3, size=(90, 90), fmt="PNG") + b"\0" * 6_000
    assert_error(post_raw(small_limits, big, "image/png"), 413, "ImageTooLarge")
    multipart = httpx.post(f"{small_limits.url}/v1/images", files={"file": ("big.png", big)})
    assert_error(multipart, 413, "ImageTooLarge")
    assert_nothing_stored_and_still_serving(small_limits)


def test_over_the_request_limit(small_limits: RunningServer) -> None:
    files = [("file", (f"{i}.png", noise(i, size=(60, 60)) + b"\0" * 4_000)) for i in range(2)]
    files[0] = ("file", ("big.bin", b"\0" * 25_000))
    response = httpx.post(f"{small_limits.url}/v1/images", files=files)
    assert_error(response, 413, "PayloadTooLarge")
    assert_nothing_stored_and_still_serving(small_limits)


def test_multipart_needs_a_length(server: RunningServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=a.jpg\r\n\r\n"
        yield JPEG
        yield b"\r\n--b--\r\n"

    response = httpx.post(
        f"{server.url}/v1/images",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_error(response, 411, "LengthRequired")
    assert_nothing_stored_and_still_serving(server)


def test_over_the_pixel_limit(small_limits: RunningServer) -> None:
    assert_error(post_raw(small_limits, solid("red", (200, 100))), 413, "ImageDimensionsTooLarge")
    assert_nothing_stored_and_still_serving(small_limits)


@pytest.fixture
def small_memory(tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(
        data_dir=tmp_path / "small-memory",
        decode_memory_bytes=1_000_000,
        workers=1,
        poll_interval_seconds=0.02,
        default_features="metadata,color,hash,thumbnail",
    )
    with serving(settings) as running:
        yield running


def bilevel_png(side: int) -> bytes:
    """A white 1-bit square: a file of a few hundred bytes, whatever its pixels."""
    return encode(Image.new("1", (side, side), 1), "PNG", optimize=True)


def test_a_small_file_of_a_picture_over_the_memory_budget(small_memory: RunningServer) -> None:
    """A tiny 1-bit PNG that decodes to more pixels than the budget can hold is refused from
    its header, on upload and on one-off analysis, like the report's 8900x8900 one."""
    huge = bilevel_png(300)  # 90,000 pixels: about 1.3 MB decoded and analysed
    assert len(huge) < 1_000
    response = post_raw(small_memory, huge, "image/png")
    assert_error(response, 413, "ImageMemoryTooLarge")
    error = response.json()["error"]
    assert error["details"]["limit"] == 1_000_000
    assert error["details"]["needed"] > 1_000_000
    assert "300x300 = 90000 pixels" in error["message"]
    analysed = httpx.post(
        f"{small_memory.url}/v1/analyze", content=huge, headers={"Content-Type": "image/png"}
    )
    assert_error(analysed, 413, "ImageMemoryTooLarge")
    assert_nothing_stored_and_still_serving(small_memory)


def test_a_picture_within_the_memory_budget_is_accepted_and_analysed(
    small_memory: RunningServer,
) -> None:
    from sightline import Client

    with Client(small_memory.url) as client:
        image = client.wait(client.upload(bilevel_png(200))["id"])  # 40,000 pixels
    assert image["status"] == "done", image
    # Upload and analysis each gave their reservation back when they let go of the pixels.
    metrics = httpx.get(f"{small_memory.url}/metrics").text
    assert 'sightline_decode_memory_bytes{state="reserved"} 0.0' in metrics


def test_too_many_files(small_limits: RunningServer) -> None:
    files = [("file", (f"{i}.jpg", JPEG, "image/jpeg")) for i in range(3)]
    response = httpx.post(f"{small_limits.url}/v1/images", files=files)
    assert_error(response, 400, "TooManyFiles")
    assert_nothing_stored_and_still_serving(small_limits)


def test_metadata_over_the_size_limit(small_limits: RunningServer) -> None:
    response = httpx.post(
        f"{small_limits.url}/v1/images",
        content=JPEG,
        headers={"Content-Type": "image/jpeg"},
        params={"metadata": '{"note": "' + "x" * 100 + '"}'},
    )
    assert_error(response, 400, "InvalidMetadata")
    assert_nothing_stored_and_still_serving(small_limits)


@pytest.mark.parametrize("metadata", ["{not json", "[1, 2]", '"text"', "42", '{"a": 1'])
def test_invalid_metadata(server: RunningServer, metadata: str) -> None:
    response = httpx.post(
        f"{server.url}/v1/images",
        files={"file": ("a.jpg", JPEG)},
        data={"metadata": metadata},
    )
    assert_error(response, 400, "InvalidMetadata")
    assert_nothing_stored_and_still_serving(server)


def test_unknown_feature(server: RunningServer) -> None:
    response = httpx.post(
        f"{server.url}/v1/images",
        content=JPEG,
        headers={"Content-Type": "image/jpeg"},
        params={"features": "color,telepathy"},
    )
    assert_error(response, 400, "InvalidFeature")
    assert "telepathy" in response.json()["error"]["message"]
    assert_nothing_stored_and_still_serving(server)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", ""])
def test_wrong_content_type(server: RunningServer, content_type: str) -> None:
    assert_error(post_raw(server, JPEG, content_type), 415, "UnsupportedMediaType")
    assert_nothing_stored_and_still_serving(server)


def test_multipart_without_a_file(server: RunningServer) -> None:
    response = httpx.post(f"{server.url}/v1/images", data={"metadata": "{}"}, files={})
    assert response.status_code in (400, 415)
    assert response.json()["error"]["code"] in ("InvalidParameter", "UnsupportedMediaType")
    assert_nothing_stored_and_still_serving(server)


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/images/{id}"),
        ("GET", "/v1/images/{id}/content"),
        ("GET", "/v1/images/{id}/thumbnail"),
        ("GET", "/v1/images/{id}/duplicates"),
        ("POST", "/v1/images/{id}/reprocess"),
        ("DELETE", "/v1/images/{id}"),
    ],
)
@pytest.mark.parametrize("image_id", ["img_0000000000000000000000000000", "nonsense", "IMG_x"])
def test_unknown_ids(server: RunningServer, method: str, path: str, image_id: str) -> None:
    response = httpx.request(method, server.url + path.format(id=image_id))
    assert_error(response, 404, "ImageNotFound")


def test_path_tricks_in_ids_find_nothing(server: RunningServer) -> None:
    for trick in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "img_%00"):
        response = httpx.get(f"{server.url}/v1/images/{trick}/content")
        assert response.status_code == 404
        assert response.json()["error"]["code"] in ("ImageNotFound", "NotFound")


def test_unknown_route(server: RunningServer) -> None:
    assert_error(httpx.get(f"{server.url}/v1/nothing-here"), 404, "NotFound")
    assert_error(httpx.put(f"{server.url}/v1/images"), 405, "MethodNotAllowed")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/images", "GET, POST"),
        ("POST", "/v1/images/img_0000000000000000000000000000", "DELETE, GET"),
        ("PUT", "/v1/classifiers/shop/examples", "DELETE, GET, POST"),
        ("PUT", "/v1/subscriptions/sub_x", "DELETE, GET, PATCH"),
        ("GET", "/v1/analyze", "POST"),
        ("POST", "/healthz", "GET"),
    ],
)
def test_a_wrong_method_is_told_every_allowed_one(
    server: RunningServer, method: str, path: str, allowed: str
) -> None:
    # Each method of a path is a route of its own: the 405 once named the first route's only.
    response = httpx.request(method, f"{server.url}{path}")
    assert_error(response, 405, "MethodNotAllowed")
    assert response.headers["allow"] == allowed


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=abc",
        "status=sleeping",
        "cursor=%%%",
        "cursor=bm9wZQ",
        "uploaded_after=yesterday",
        "uploaded_after=2026-01-01T00:00:00",
    ],
)
def test_bad_list_parameters(server: RunningServer, query: str) -> None:
    assert_error(httpx.get(f"{server.url}/v1/images?{query}"), 400, "InvalidParameter")


def test_bad_parameters_on_an_existing_image(server: RunningServer) -> None:
    image_id = post_raw(server, JPEG).json()["images"][0]["id"]
    base = f"{server.url}/v1/images/{image_id}"
    assert_error(httpx.get(f"{base}/thumbnail?size=100"), 400, "InvalidParameter")
    assert_error(httpx.get(f"{base}/thumbnail?size=big"), 400, "InvalidParameter")
    assert_error(httpx.get(f"{base}/duplicates?max_distance=64"), 400, "InvalidParameter")
    bad_json = httpx.post(
        f"{base}/reprocess", content=b"{features:", headers={"Content-Type": "application/json"}
    )
    assert_error(bad_json, 400, "InvalidJson")
    wrong_shape = httpx.post(f"{base}/reprocess", json={"features": "color"})
    assert_error(wrong_shape, 400, "InvalidParameter")
    unknown = httpx.post(f"{base}/reprocess", json={"features": ["telepathy"]})
    assert_error(unknown, 400, "InvalidFeature")
    assert_error(httpx.get(f"{server.url}/v1/events?since=-1"), 400, "InvalidParameter")
    assert httpx.get(f"{base}").status_code == 200


ODD_BUT_VALID = {
    "1x1 pixel": encode(Image.new("RGB", (1, 1), "white"), "PNG"),
    "1x1000 strip": encode(Image.new("RGB", (1, 1000), "gray"), "PNG"),
    "CMYK jpeg": encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"),
    "16-bit greyscale png": encode(
        Image.fromarray((np.arange(1200).reshape(30, 40) * 50).astype(np.uint16)), "PNG"
    ),
    "palette png with transparency": encode(
        Image.new("RGBA", (30, 30), (255, 0, 0, 128)).convert("P"), "PNG", transparency=0
    ),
    "RGBA webp": encode(Image.new("RGBA", (30, 30), (0, 0, 255, 100)), "WEBP"),
    "BMP": encode(Image.new("RGB", (30, 20), "yellow"), "BMP"),
    "TIFF": encode(Image.new("RGB", (30, 20), "purple"), "TIFF"),
    "AVIF": encode(Image.new("RGB", (30, 20), "orange"), "AVIF"),
    "HEIC": encode(Image.new("RGB", (30, 20), "teal"), "HEIF"),
}


@pytest.mark.parametrize("case", list(ODD_BUT_VALID))
def test_odd_but_valid_images_are_analysed(server: RunningServer, case: str) -> None:
    from sightline import Client

    with Client(server.url) as client:
        image = client.wait(client.upload(ODD_BUT_VALID[case])["id"])
    assert image["status"] == "done", image
    assert all(feature["status"] == "done" for feature in image["features"].values())


def test_huge_exif_is_accepted_and_bounded(server: RunningServer) -> None:
    from sightline import Client

    exif = Image.Exif()
    exif[0x010E] = "x" * 60_000  # ImageDescription
    exif[0x010F] = "Canon"
    data = encode(Image.new("RGB", (50, 50), "red"), "JPEG", exif=exif.tobytes())
    with Client(server.url) as client:
        image = client.wait(client.upload(data)["id"])
    assert image["status"] == "done"
    result = image["features"]["metadata"]["result"]
    assert result["exif"]["camera_make"] == "Canon"
    assert len(io.StringIO(str(result)).getvalue()) < 20_000


def test_a_failed_catalog_write_leaves_no_blob_behind(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("sightline.images.sql.insert_events", broken)
    response = post_raw(server, noise(8))
    assert_error(response, 500, "InternalError")
    monkeypatch.undo()
    assert_nothing_stored_and_still_serving(server)


@pytest.mark.parametrize(
    ("size", "fmt"), [((20000, 1), "PNG"), ((1, 20000), "JPEG"), ((4000, 33), "PNG")]
)
def test_pictures_too_thin_for_a_model_skip_it_and_the_image_is_done(
    server: RunningServer, size: tuple[int, int], fmt: str
) -> None:
    from sightline import Client

    with Client(server.url) as client:
        uploaded = client.upload(
            encode(Image.new("RGB", size, "gray"), fmt), features=["metadata", "thumbnail", "read"]
        )
        image = client.wait(uploaded["id"])
    assert image["status"] == "done", image
    read = image["features"]["read"]
    assert read["status"] == "skipped"
    assert "too thin to hold a line of text" in read["result"]["reason"]
    assert image["features"]["thumbnail"]["status"] == "done"


def test_a_single_valued_parameter_given_twice_is_refused(server: RunningServer) -> None:
    for path, query in [
        ("/v1/subscriptions", "collection=a&collection=default"),
        ("/v1/images", "limit=5&limit=7"),
        ("/v1/search", "q=cat&mode=text&mode=semantic"),
    ]:
        answer = httpx.get(f"{server.url}{path}?{query}")
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"]["code"] == "InvalidParameter"
        assert "given 2 times" in answer.json()["error"]["message"]
    # A parameter that takes many values still does.
    tags = httpx.get(f"{server.url}/v1/search", params=[("tag", "cat"), ("tag", "dog")])
    assert tags.status_code == 200, tags.text
