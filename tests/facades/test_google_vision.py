"""The Google Cloud Vision facade, driven by the official `google-cloud-vision` client
(`ImageAnnotatorClient` over REST) against a live server."""

from __future__ import annotations

import base64
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import vision
from PIL import Image
from skimage import data

from conftest import TEST_SETTINGS, RunningServer, serving
from facades.test_azure_image_analysis import origin  # noqa: F401 (a fixture, used by name)
from sightline.settings import Settings
from support.documents import claim_form, word_recall, words
from support.imagegen import encode, solid
from vision.test_objects import add_detector, yolov8_output

ANNOTATE = "/v1/images:annotate"
KEY = "google-key"
PHOTO = encode(Image.fromarray(np.asarray(data.astronaut())), "JPEG")
Feature = vision.Feature.Type
Likelihood = vision.Likelihood


def annotator(server: RunningServer, key: str | None = KEY) -> vision.ImageAnnotatorClient:
    if key is None:
        return vision.ImageAnnotatorClient(
            credentials=AnonymousCredentials(),
            transport="rest",
            client_options={"api_endpoint": server.url},
        )
    return vision.ImageAnnotatorClient(
        transport="rest", client_options={"api_endpoint": server.url, "api_key": key}
    )


def request(content: bytes, *features: int, **context: object) -> vision.AnnotateImageRequest:
    return vision.AnnotateImageRequest(
        image=vision.Image(content=content),
        features=[vision.Feature(type_=feature) for feature in features],
        image_context=vision.ImageContext(**context) if context else None,
    )


def annotate(
    server: RunningServer, content: bytes, *features: int, **context: object
) -> vision.AnnotateImageResponse:
    answer = annotator(server).batch_annotate_images(
        requests=[request(content, *features, **context)]
    )
    [one] = answer.responses
    assert not one.error.message, one.error
    return one


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(
        data_dir=tmp_path / "data",
        api_keys=KEY,
        fetch_allow_private=True,
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )
    with serving(settings) as running:
        yield running


def test_labels_typed_by_the_sdk_surest_first(guarded: RunningServer) -> None:
    # With the colours asked for too, Sightline's tags gain colour words, which it lists last.
    found = annotate(guarded, PHOTO, Feature.LABEL_DETECTION, Feature.IMAGE_PROPERTIES)
    labels = found.label_annotations
    assert {"Brown", "Gray"} <= {label.description for label in labels}
    assert all(0 < label.score <= 1 and label.topicality == label.score for label in labels)
    assert all(label.description[:1].isupper() for label in labels)
    scores = [label.score for label in labels]
    assert scores == sorted(scores, reverse=True)


def test_text_and_document_text_read_a_rendered_form(guarded: RunningServer) -> None:
    form = claim_form(width=800)
    for feature in (Feature.TEXT_DETECTION, Feature.DOCUMENT_TEXT_DETECTION):
        found = annotate(guarded, encode(form.image, "PNG"), feature)
        whole, *found_words = found.text_annotations
        assert word_recall(form.words, words(whole.description)) > 0.8
        assert whole.description.endswith("\n") and len(whole.bounding_poly.vertices) == 4
        assert found_words and all(len(w.bounding_poly.vertices) == 4 for w in found_words)
        [page] = found.full_text_annotation.pages
        assert (page.width, page.height) == form.image.size
        assert found.full_text_annotation.text == whole.description
        symbols = [
            symbol
            for block in page.blocks
            for paragraph in block.paragraphs
            for word in paragraph.words
            for symbol in word.symbols
        ]
        rebuilt = "".join(
            symbol.text + {1: " ", 3: "\n"}.get(int(symbol.property.detected_break.type_), "")
            for symbol in symbols
        )
        assert rebuilt == whole.description


def test_faces_with_landmarks_as_the_picture_shows_them(guarded: RunningServer) -> None:
    [face] = annotate(guarded, PHOTO, Feature.FACE_DETECTION).face_annotations
    assert 0.5 < face.detection_confidence <= 1
    assert len(face.bounding_poly.vertices) == 4 and face.fd_bounding_poly == face.bounding_poly
    where = {landmark.type_.name: landmark.position for landmark in face.landmarks}
    assert where["LEFT_EYE"].x < where["RIGHT_EYE"].x
    assert where["LEFT_EYE"].y < where["NOSE_TIP"].y < where["MOUTH_LEFT"].y
    assert face.joy_likelihood == Likelihood.UNKNOWN
    assert face.headwear_likelihood == Likelihood.UNKNOWN


def test_image_properties_and_crop_hints(guarded: RunningServer) -> None:
    found = annotate(
        guarded,
        PHOTO,
        Feature.IMAGE_PROPERTIES,
        Feature.CROP_HINTS,
        crop_hints_params=vision.CropHintsParams(aspect_ratios=[1.0]),
    )
    colors = found.image_properties_annotation.dominant_colors.colors
    assert colors and sum(color.pixel_fraction for color in colors) <= 1.001
    assert all(0 <= color.color.red <= 255 for color in colors)
    [hint] = found.crop_hints_annotation.crop_hints
    (left, top), (right, _), (_, bottom) = [(v.x, v.y) for v in hint.bounding_poly.vertices[:3]]
    assert right - left == bottom - top > 0


@pytest.mark.skipif(importlib.util.find_spec("nudenet") is None, reason="the adult extra")
def test_safe_search_judges_adult_and_racy_only(guarded: RunningServer) -> None:
    safe = annotate(guarded, PHOTO, Feature.SAFE_SEARCH_DETECTION).safe_search_annotation
    assert safe.adult in {Likelihood.VERY_UNLIKELY, Likelihood.UNLIKELY}
    assert safe.racy != Likelihood.UNKNOWN
    assert (safe.spoof, safe.medical, safe.violence) == (Likelihood.UNKNOWN,) * 3


def test_a_batch_answers_each_image_with_its_own_error(guarded: RunningServer) -> None:
    answer = annotator(guarded).batch_annotate_images(
        requests=[
            request(PHOTO, Feature.LABEL_DETECTION),
            request(b"not an image at all" * 10, Feature.LABEL_DETECTION),
            vision.AnnotateImageRequest(
                image=vision.Image(source=vision.ImageSource(gcs_image_uri="gs://b/a.jpg")),
                features=[vision.Feature(type_=Feature.LABEL_DETECTION)],
            ),
            request(PHOTO, Feature.LABEL_DETECTION, Feature.LOGO_DETECTION),
        ]
    )
    good, not_an_image, in_gcs, logos = answer.responses
    assert good.label_annotations and not good.error.message
    assert not_an_image.error.code == 3 and "Bad image data" in not_an_image.error.message
    assert in_gcs.error.code == 7 and "gs://b/a.jpg" in in_gcs.error.message
    assert logos.error.code == 12 and "LOGO_DETECTION" in logos.error.message


def test_wrong_missing_and_read_only_keys_are_refused(guarded: RunningServer) -> None:
    with pytest.raises(exceptions.Unauthorized):
        annotator(guarded, key="wrong").batch_annotate_images(
            requests=[request(PHOTO, Feature.LABEL_DETECTION)]
        )
    with pytest.raises(exceptions.Forbidden, match="missing a valid API key"):
        annotator(guarded, key=None).batch_annotate_images(
            requests=[request(PHOTO, Feature.LABEL_DETECTION)]
        )
    made = httpx.post(
        f"{guarded.url}/v1/keys",
        json={"name": "viewer", "scope": "read"},
        headers={"X-API-Key": KEY},
    )
    with pytest.raises(exceptions.Forbidden):
        annotator(guarded, key=made.json()["secret"]).batch_annotate_images(
            requests=[request(PHOTO, Feature.LABEL_DETECTION)]
        )


def test_the_path_is_the_services_beside_sightlines_own_images_routes(
    guarded: RunningServer,
) -> None:
    body = {
        "requests": [
            {
                "image": {"content": base64.b64encode(PHOTO).decode()},
                "features": [{"type": "LABEL_DETECTION", "maxResults": 2}],
            }
        ]
    }
    by_query = httpx.post(f"{guarded.url}{ANNOTATE}", params={"key": KEY}, json=body, timeout=60)
    assert by_query.status_code == 200, by_query.text
    assert len(by_query.json()["responses"][0]["labelAnnotations"]) == 2
    listed = httpx.get(f"{guarded.url}/v1/images", headers={"X-API-Key": KEY})
    assert listed.status_code == 200, listed.text  # Sightline's own route, unshadowed
    document = httpx.get(f"{guarded.url}/openapi.json").json()
    assert not [path for path in document["paths"] if ":annotate" in path]
    refused = httpx.post(f"{guarded.url}{ANNOTATE}", params={"key": KEY}, json={"requests": []})
    assert refused.status_code == 400
    assert refused.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_an_image_uri_is_fetched_as_v1_analyze_fetches_it(
    guarded: RunningServer,
    origin: str,  # noqa: F811 (the fixture imported above)
) -> None:
    answer = annotator(guarded).label_detection({"source": {"image_uri": f"{origin}/photo.jpg"}})
    assert answer.label_annotations and not answer.error.message
    unreachable = annotator(guarded).label_detection(
        {"source": {"image_uri": "http://127.0.0.1:9/nothing.jpg"}}
    )
    assert unreachable.error.code == 7


def test_an_open_server_takes_anonymous_credentials(server: RunningServer) -> None:
    answer = annotator(server, key=None).face_detection(image=vision.Image(content=PHOTO))
    assert len(answer.face_annotations) == 1


def test_objects_come_from_the_installed_detector_in_normalised_vertices(tmp_path: Path) -> None:
    source, models = tmp_path / "source", tmp_path / "models"
    source.mkdir()
    add_detector(models, source, "v8", yolov8_output(), format="yolov8")
    settings = Settings(
        data_dir=tmp_path / "data",
        api_keys=KEY,
        model_dir=models,
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )
    with serving(settings) as running:
        picture = solid("white", (200, 100), "PNG")
        found = annotate(running, picture, Feature.OBJECT_LOCALIZATION).localized_object_annotations
    boxes = {
        thing.name: [(v.x, v.y) for v in thing.bounding_poly.normalized_vertices][0::2]
        for thing in found
    }
    assert boxes.keys() == {"Cat", "Dog"}
    assert boxes["Cat"][0][0] == pytest.approx(0.1) and boxes["Dog"][0][0] == pytest.approx(0.75)
