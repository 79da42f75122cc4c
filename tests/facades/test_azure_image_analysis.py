"""The Azure AI Vision Image Analysis 4.0 facade, driven by the official
`azure-ai-vision-imageanalysis` client against a live server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from azure.ai.vision.imageanalysis import ImageAnalysisClient
from azure.ai.vision.imageanalysis.models import VisualFeatures
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from PIL import Image
from skimage import data

from conftest import TEST_SETTINGS, RunningServer, serving
from sightline.settings import Settings
from support.documents import claim_form
from support.imagegen import encode, solid
from vision.test_objects import add_detector, yolov8_output

ANALYZE = "/computervision/imageanalysis:analyze"
KEY = "azure-key"
PHOTO = encode(Image.fromarray(np.asarray(data.astronaut())), "JPEG")


def vision(server: RunningServer, key: str = KEY) -> ImageAnalysisClient:
    return ImageAnalysisClient(server.url, AzureKeyCredential(key))


def keyed(tmp_path: Path, **fields: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        api_keys=KEY,
        **{**TEST_SETTINGS, **fields},  # type: ignore[arg-type]
    )


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    with serving(keyed(tmp_path, fetch_allow_private=True)) as running:
        yield running


@pytest.fixture
def origin() -> Iterator[str]:
    """A real HTTP server on loopback that the facade fetches the photo from."""

    class Photo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            self.wfile.write(PHOTO)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Photo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_bytes_get_tags_people_and_smart_crops_typed_by_the_sdk(guarded: RunningServer) -> None:
    result = vision(guarded).analyze(
        PHOTO,
        visual_features=[VisualFeatures.TAGS, VisualFeatures.PEOPLE, VisualFeatures.SMART_CROPS],
        smart_crops_aspect_ratios=[1.0],
    )
    assert (result.metadata.width, result.metadata.height) == (512, 512)
    assert result.model_version.startswith("sightline-")
    assert result.tags is not None and result.tags.list
    assert all(0 < tag.confidence <= 1 and tag.name for tag in result.tags.list)
    assert result.people is not None and result.people.list
    person = max(result.people.list, key=lambda found: found.confidence)
    assert person.bounding_box.width > 100 and person.bounding_box.height > 100
    assert result.smart_crops is not None
    [crop] = result.smart_crops.list
    assert crop.aspect_ratio == 1.0 and crop.bounding_box.width == crop.bounding_box.height
    assert result.read is None and result.caption is None and result.objects is None


def test_read_answers_lines_and_words_with_polygons(guarded: RunningServer) -> None:
    form = claim_form(width=800)
    result = vision(guarded).analyze(encode(form.image, "PNG"), [VisualFeatures.READ])
    assert result.read is not None
    [block] = result.read.blocks
    text = " ".join(line.text for line in block.lines)
    assert "Claim" in text or "CLAIM" in text.upper()
    line = block.lines[0]
    assert len(line.bounding_polygon) == 4 and line.words
    assert all(len(word.bounding_polygon) == 4 and 0 < word.confidence <= 1 for word in line.words)


def test_a_url_is_fetched_where_the_server_allows_it(guarded: RunningServer, origin: str) -> None:
    result = vision(guarded).analyze_from_url(f"{origin}/photo.jpg", [VisualFeatures.TAGS])
    assert result.tags is not None and result.tags.list
    assert result.metadata.width == 512


def test_objects_come_from_the_installed_detector(tmp_path: Path) -> None:
    source, models = tmp_path / "source", tmp_path / "models"
    source.mkdir()
    add_detector(models, source, "v8", yolov8_output(), format="yolov8")
    with serving(keyed(tmp_path, model_dir=models)) as running:
        picture = solid("white", (200, 100), "PNG")
        result = vision(running).analyze(picture, [VisualFeatures.OBJECTS])
    assert result.objects is not None
    found = [
        (obj.tags[0].name, obj.bounding_box.x, obj.bounding_box.width)
        for obj in result.objects.list
    ]
    assert found == [("cat", 20, 100), ("dog", 150, 40)]


@pytest.mark.parametrize("feature", [VisualFeatures.CAPTION, VisualFeatures.DENSE_CAPTIONS])
def test_captions_are_refused_as_the_service_refuses_them(
    guarded: RunningServer, feature: VisualFeatures
) -> None:
    with pytest.raises(HttpResponseError) as refused:
        vision(guarded).analyze(PHOTO, [VisualFeatures.TAGS, feature])
    assert refused.value.status_code == 400
    assert refused.value.error is not None and refused.value.error.code == "InvalidRequest"
    assert refused.value.error.innererror["code"] == "NotSupportedVisualFeature"


def test_a_wrong_or_missing_key_is_refused_with_401(guarded: RunningServer) -> None:
    with pytest.raises(ClientAuthenticationError) as refused:
        vision(guarded, key="wrong").analyze(PHOTO, [VisualFeatures.TAGS])
    assert refused.value.status_code == 401
    assert refused.value.error is not None and refused.value.error.code == "401"
    missing = httpx.post(
        f"{guarded.url}{ANALYZE}",
        params={"api-version": "2023-10-01", "features": "tags"},
        content=PHOTO,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "401"


def test_a_read_only_key_is_refused_with_403(guarded: RunningServer) -> None:
    made = httpx.post(
        f"{guarded.url}/v1/keys",
        json={"name": "viewer", "scope": "read"},
        headers={"X-API-Key": KEY},
    )
    with pytest.raises(HttpResponseError) as refused:
        vision(guarded, key=made.json()["secret"]).analyze(PHOTO, [VisualFeatures.TAGS])
    assert refused.value.status_code == 403
    assert refused.value.error is not None and refused.value.error.code == "403"


def inner_code(refused: pytest.ExceptionInfo[HttpResponseError]) -> str:
    assert refused.value.error is not None
    code: str = refused.value.error.innererror["code"]
    return code


def test_bad_inputs_answer_the_service_codes(guarded: RunningServer, origin: str) -> None:
    client = vision(guarded)
    with pytest.raises(HttpResponseError) as refused:
        client.analyze(b"not an image at all" * 10, [VisualFeatures.TAGS])
    assert refused.value.status_code == 400 and inner_code(refused) == "InvalidImageFormat"
    with pytest.raises(HttpResponseError) as refused:
        client.analyze(PHOTO, [VisualFeatures.TAGS], language="fr")
    assert inner_code(refused) == "NotSupportedLanguage"
    with pytest.raises(HttpResponseError) as refused:
        client.analyze(PHOTO, [VisualFeatures.SMART_CROPS], smart_crops_aspect_ratios=[2.5])
    assert inner_code(refused) == "BadArgument"
    with pytest.raises(HttpResponseError) as refused:
        client.analyze_from_url("ftp://example.com/a.png", [VisualFeatures.TAGS])
    assert inner_code(refused) == "InvalidImageUrl"
    with pytest.raises(HttpResponseError) as refused:
        client.analyze(b"", [VisualFeatures.TAGS])
    assert inner_code(refused) == "InvalidImageSize"


def test_the_image_size_limit_is_the_services_invalid_image_size(tmp_path: Path) -> None:
    with serving(keyed(tmp_path, max_upload_bytes=1000)) as running:
        with pytest.raises(HttpResponseError) as refused:
            vision(running).analyze(PHOTO, [VisualFeatures.TAGS])
    assert refused.value.status_code == 400 and inner_code(refused) == "InvalidImageSize"


def test_an_open_server_needs_no_key_and_refuses_other_api_versions(server: RunningServer) -> None:
    query = {"features": "tags", "api-version": "2024-02-01"}
    raw = {"Content-Type": "application/octet-stream"}
    served = httpx.post(
        f"{server.url}{ANALYZE}", params=query, content=PHOTO, headers=raw, timeout=60
    )
    assert served.status_code == 200, served.text
    assert served.json()["tagsResult"]["values"]
    old = httpx.post(
        f"{server.url}{ANALYZE}",
        params={**query, "api-version": "2022-01-01"},
        content=PHOTO,
        headers=raw,
    )
    assert old.status_code == 404 and old.json()["error"]["code"] == "404"
