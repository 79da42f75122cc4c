"""Azure Computer Vision 3.2's official client (`azure-cognitiveservices-vision-computervision`)
against a live Sightline server: every operation it offers that Sightline serves, the Read
polling flow, and the refusals in the service's own terms."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from azure.cognitiveservices.vision.computervision import ComputerVisionClient
from azure.cognitiveservices.vision.computervision.models import (
    ComputerVisionErrorResponseException,
    OperationStatusCodes,
    VisualFeatureTypes,
)
from msrest.authentication import CognitiveServicesCredentials
from PIL import Image
from skimage import data

from conftest import TEST_SETTINGS, RunningServer, serving
from sightline.models.manifest import add_user_model
from sightline.settings import Settings, default_model_dir
from support.documents import POLICY_NUMBER, claim_form
from support.imagegen import encode
from support.onnxnets import fixed_output, write_manifest

KEY = "azure-subscription-key-is-a-sightline-key"
DETECTOR_SIDE = 64  # a 200 x 100 picture is letterboxed into it at scale 0.32, 16 px down
CAT = (20, 10, 120, 60)  # the one box the test detector always finds, in picture pixels


def add_cat_detector(model_dir: Path, source: Path) -> None:
    """A YOLOv8-layout "detector" that always finds one cat at `CAT` in a 200 x 100 picture."""
    x0, y0, x1, y1 = (value * 0.32 for value in CAT)
    y0, y1 = y0 + 16, y1 + 16
    row = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, 0.9]
    fixed_output(
        source / "cats.onnx",
        np.array([row], dtype=np.float32).T[np.newaxis],
        width=DETECTOR_SIDE,
        height=DETECTOR_SIDE,
    )
    manifest = write_manifest(
        source,
        name="cats",
        kind="detector",
        model="cats.onnx",
        labels=["cat"],
        input={"width": DETECTOR_SIDE, "height": DETECTOR_SIDE},
        format="yolov8",
    )
    add_user_model(model_dir, manifest)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("azure-cv")
    model_dir, source = root / "models", root / "source"
    model_dir.mkdir()
    source.mkdir()
    # The bundled tagger from the prepared folder, and a detector of known answers.
    (model_dir / "efficientnet-lite0").symlink_to(default_model_dir() / "efficientnet-lite0")
    add_cat_detector(model_dir, source)
    settings = Settings(
        data_dir=root / "data",
        model_dir=model_dir,
        api_keys=KEY,
        fetch_allow_private=True,  # the test's image server is on loopback
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )
    with serving(settings, run_workers=False) as running:
        yield running


@pytest.fixture(scope="module")
def vision(server: RunningServer) -> ComputerVisionClient:
    return ComputerVisionClient(server.url, CognitiveServicesCredentials(KEY))


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    return encode(Image.fromarray(np.asarray(data.astronaut())), "JPEG")


@pytest.fixture(scope="module")
def image_site(tmp_path_factory: pytest.TempPathFactory, astronaut: bytes) -> Iterator[str]:
    """An HTTP server with the astronaut at `/astronaut.jpg`, for the URL operations."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "astronaut.jpg").write_bytes(astronaut)
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    site = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}"
    finally:
        site.shutdown()
        site.server_close()


def test_analyze_gives_tags_faces_type_color_and_adult(
    vision: ComputerVisionClient, astronaut: bytes
) -> None:
    features = [
        VisualFeatureTypes.tags,
        VisualFeatureTypes.faces,
        VisualFeatureTypes.image_type,
        VisualFeatureTypes.color,
        VisualFeatureTypes.adult,
    ]
    analysis = vision.analyze_image_in_stream(io.BytesIO(astronaut), visual_features=features)
    assert analysis.tags[0].name == "person" and 0 < analysis.tags[0].confidence <= 1
    (face,) = analysis.faces
    assert 150 < face.face_rectangle.left < 220 and face.face_rectangle.width > 50
    assert analysis.image_type.clip_art_type == 0 and analysis.image_type.line_drawing_type == 0
    assert analysis.color.dominant_colors and not analysis.color.is_bw_img
    assert len(analysis.color.accent_color) == 6
    assert analysis.adult.is_adult_content is False and analysis.adult.adult_score < 0.5
    assert analysis.adult.is_gory_content is None  # not measured: left out, not invented
    assert (analysis.metadata.width, analysis.metadata.height) == (512, 512)
    assert analysis.metadata.format == "Jpeg" and analysis.request_id


def test_analyze_by_url_and_tag_image(
    server: RunningServer, vision: ComputerVisionClient, image_site: str, astronaut: bytes
) -> None:
    analysis = vision.analyze_image(
        f"{image_site}/astronaut.jpg", visual_features=[VisualFeatureTypes.tags]
    )
    tagged = vision.tag_image(f"{image_site}/astronaut.jpg")
    assert [t.name for t in analysis.tags] == [t.name for t in tagged.tags]
    assert tagged.tags[0].name == "person"
    # A multipart form's one file, as the REST API also takes it.
    form = httpx.post(
        f"{server.url}/vision/v3.2/tag",
        files={"file": ("astronaut.jpg", astronaut, "image/jpeg")},
        headers={"Ocp-Apim-Subscription-Key": KEY},
    )
    assert form.status_code == 200 and form.json()["tags"][0]["name"] == "person"


def test_objects_from_analyze_and_detect(vision: ComputerVisionClient) -> None:
    picture = encode(Image.new("RGB", (200, 100), (90, 120, 160)), "PNG")
    analysis = vision.analyze_image_in_stream(
        io.BytesIO(picture), visual_features=[VisualFeatureTypes.objects]
    )
    detected = vision.detect_objects_in_stream(io.BytesIO(picture))
    for found in (analysis.objects, detected.objects):
        (cat,) = found
        assert cat.object_property == "cat" and cat.confidence == pytest.approx(0.9, abs=0.01)
        x0, y0, x1, y1 = CAT
        box = cat.rectangle
        assert (box.x, box.y, box.w, box.h) == pytest.approx((x0, y0, x1 - x0, y1 - y0), abs=2)


def test_the_read_flow_polls_an_operation_to_its_text(vision: ComputerVisionClient) -> None:
    form = encode(claim_form().image, "PNG")
    started = vision.read_in_stream(io.BytesIO(form), raw=True)
    operation_id = started.headers["Operation-Location"].split("/")[-1]
    deadline = time.monotonic() + 60
    while True:
        result = vision.get_read_result(operation_id)
        if result.status not in (OperationStatusCodes.not_started, OperationStatusCodes.running):
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert result.status == OperationStatusCodes.succeeded
    (page,) = result.analyze_result.read_results
    assert (page.width, page.height, page.unit) == (1200, 1000, "pixel")
    text = " ".join(line.text for line in page.lines)
    assert POLICY_NUMBER in text
    line = next(line for line in page.lines if POLICY_NUMBER in line.text)
    assert len(line.bounding_box) == 8 and all(len(w.bounding_box) == 8 for w in line.words)


def test_thumbnail_and_area_of_interest(vision: ComputerVisionClient, astronaut: bytes) -> None:
    chunks = vision.generate_thumbnail_in_stream(
        120, 80, io.BytesIO(astronaut), smart_cropping=True
    )
    thumbnail = Image.open(io.BytesIO(b"".join(chunks)))
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (120, 80))
    area = vision.get_area_of_interest_in_stream(io.BytesIO(astronaut)).area_of_interest
    assert 0 < area.w <= 512 and 0 < area.h <= 512
    # The face (about x 181-270, y 59-177) is kept.
    assert area.x <= 181 and area.x + area.w >= 270 and area.y <= 59 and area.y + area.h >= 177


def refusal(call: Callable[[], object]) -> tuple[int, str, str | None]:
    """The status, code and inner error code of the SDK's exception for `call`."""
    with pytest.raises(ComputerVisionErrorResponseException) as caught:
        call()
    assert caught.value.error is not None, caught.value.response.text
    error = caught.value.error.error
    inner = error.innererror.code if error.innererror is not None else None
    return caught.value.response.status_code, error.code, inner


def test_refusals_in_the_services_terms(
    server: RunningServer, vision: ComputerVisionClient, astronaut: bytes, image_site: str
) -> None:
    description = refusal(
        lambda: vision.analyze_image_in_stream(
            io.BytesIO(astronaut), visual_features=[VisualFeatureTypes.description]
        )
    )
    assert description == (400, "InvalidRequest", "NotSupportedVisualFeature")
    not_an_image = refusal(lambda: vision.tag_image_in_stream(io.BytesIO(b"%PDF-1.4 no image")))
    assert not_an_image == (400, "InvalidRequest", "InvalidImageFormat")
    missing = refusal(lambda: vision.tag_image(f"{image_site}/missing.jpg"))
    assert missing == (400, "InvalidRequest", "InvalidImageUrl")
    language = refusal(lambda: vision.tag_image_in_stream(io.BytesIO(astronaut), language="ja"))
    assert language == (400, "InvalidRequest", "NotSupportedLanguage")
    # The SDK itself refuses sizes past 1024; other clients are told by the server.
    too_wide = httpx.post(
        f"{server.url}/vision/v3.2/generateThumbnail?width=2000&height=10",
        content=astronaut,
        headers={"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/octet-stream"},
    )
    assert too_wide.status_code == 400
    assert too_wide.json()["error"]["innererror"]["code"] == "InvalidThumbnailSize"

    stranger = ComputerVisionClient(server.url, CognitiveServicesCredentials("not-a-key"))
    wrong_key = refusal(lambda: stranger.tag_image_in_stream(io.BytesIO(astronaut)))
    assert wrong_key == (401, "401", None)

    unknown = httpx.get(
        f"{server.url}/vision/v3.2/read/analyzeResults/no-such-operation",
        headers={"Ocp-Apim-Subscription-Key": KEY},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NotFound"


def test_the_keys_scope_applies(server: RunningServer, astronaut: bytes) -> None:
    made = httpx.post(
        f"{server.url}/v1/keys",
        json={"name": "reader", "scope": "read"},
        headers={"X-API-Key": KEY},
    )
    assert made.status_code == 201, made.text
    reader = ComputerVisionClient(server.url, CognitiveServicesCredentials(made.json()["secret"]))
    refused = refusal(lambda: reader.tag_image_in_stream(io.BytesIO(astronaut)))
    assert refused == (403, "403", None)


def test_without_keys_on_the_server_the_facade_is_open(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", **TEST_SETTINGS)  # type: ignore[arg-type]
    picture = encode(Image.new("RGB", (64, 48), (200, 30, 30)), "PNG")
    with serving(settings, run_workers=False) as open_server:
        anyone = ComputerVisionClient(open_server.url, CognitiveServicesCredentials("anything"))
        analysis = anyone.analyze_image_in_stream(
            io.BytesIO(picture), visual_features=[VisualFeatureTypes.color]
        )
    assert analysis.color.dominant_colors == ["Red"]


def test_a_read_started_on_one_replica_is_polled_on_another(
    catalog_url: str, tmp_path: Path
) -> None:
    def replica(name: str) -> Settings:
        return Settings(
            data_dir=tmp_path / name,
            catalog_url=catalog_url,
            api_keys=KEY,
            **TEST_SETTINGS,  # type: ignore[arg-type]
        )

    form = encode(claim_form().image, "PNG")
    with (
        serving(replica("one"), run_workers=False) as one,
        serving(replica("two"), run_workers=False) as two,
    ):
        started = ComputerVisionClient(one.url, CognitiveServicesCredentials(KEY)).read_in_stream(
            io.BytesIO(form), raw=True
        )
        operation_id = started.headers["Operation-Location"].split("/")[-1]
        result = ComputerVisionClient(two.url, CognitiveServicesCredentials(KEY)).get_read_result(
            operation_id
        )
    assert result.status == OperationStatusCodes.succeeded
    assert POLICY_NUMBER in " ".join(
        line.text for line in result.analyze_result.read_results[0].lines
    )
