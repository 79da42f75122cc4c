"""Azure Custom Vision's official Python clients against a live Sightline server: the
quickstart of a classification project (tags, a batch of tagged images, training, performance,
publishing, classifying by upload and by URL), and the service's errors."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.prediction.models import (
    CustomVisionErrorException as PredictionError,
)
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials

from conftest import RunningServer, serving
from sightline.facades.custom_vision import ids
from sightline.images.service import Upload
from sightline.keys import Scope
from sightline.settings import Settings
from support.garments import KINDS, garment

ADMIN_KEY = "cv-admin-key"
PER_KIND = 6  # over the 5 examples a label needs, few enough to train in seconds


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(
        data_dir=tmp_path / "data",
        api_keys=ADMIN_KEY,
        default_features="metadata,color,hash,thumbnail",
        fetch_allow_private=True,  # classify_image_url reads the test's own loopback origin
    )
    with serving(settings) as running:
        yield running


class Clients:
    """The official clients, closed when the test ends."""

    def __init__(self, server: RunningServer) -> None:
        self.url = server.url
        self.opened: list[CustomVisionTrainingClient | CustomVisionPredictionClient] = []

    def training(self, key: str = ADMIN_KEY) -> CustomVisionTrainingClient:
        client = CustomVisionTrainingClient(
            self.url, ApiKeyCredentials(in_headers={"Training-key": key})
        )
        self.opened.append(client)
        return client

    def prediction(self, key: str = ADMIN_KEY) -> CustomVisionPredictionClient:
        client = CustomVisionPredictionClient(
            self.url, ApiKeyCredentials(in_headers={"Prediction-key": key})
        )
        self.opened.append(client)
        return client


def code(raised: CustomVisionErrorException | PredictionError) -> str:
    assert raised.error is not None
    return str(raised.error.code)


@pytest.fixture
def clients(server: RunningServer) -> Iterator[Clients]:
    made = Clients(server)
    yield made
    for client in made.opened:
        client.close()


@pytest.fixture
def origin() -> Iterator[str]:
    """A loopback web server answering `/dress.png` with a garment it was never trained on."""
    picture = garment("dress", 1000)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            if self.path.endswith("?fail"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(picture)))
            self.end_headers()
            self.wfile.write(picture)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_quickstart_trains_publishes_and_classifies(clients: Clients, origin: str) -> None:
    training = clients.training()
    project = training.create_project("garments", classification_type="Multiclass")
    assert training.get_project(project.id).name == "garments"
    tags = {kind: training.create_tag(project.id, kind) for kind in KINDS}
    entries = [
        ImageFileCreateEntry(
            name=f"{kind}-{seed}.png",
            contents=bytearray(garment(kind, seed)),
            tag_ids=[tags[kind].id],
        )
        for kind in KINDS
        for seed in range(PER_KIND)
    ]
    summary = training.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful, [image.status for image in summary.images]
    assert {image.image.tags[0].tag_name for image in summary.images} == set(KINDS)
    assert {tag.name: tag.image_count for tag in training.get_tags(project.id)} == {
        kind: PER_KIND for kind in KINDS
    }
    single = training.create_images_from_data(
        project.id, garment("shirt", 99), tag_ids=[tags["shirt"].id]
    )
    assert single.is_batch_successful and single.images[0].status == "OK"

    iteration = training.train_project(project.id)
    assert iteration.status == "Training" and iteration.name == "Iteration 1"
    deadline = time.monotonic() + 120
    while iteration.status == "Training" and time.monotonic() < deadline:
        time.sleep(0.5)
        iteration = training.get_iteration(project.id, iteration.id)
    assert iteration.status == "Completed"

    performance = training.get_iteration_performance(project.id, iteration.id)
    assert performance.precision >= 0.9 and performance.recall >= 0.9
    assert {tag.name for tag in performance.per_tag_performance} == set(KINDS)
    assert {tag.id for tag in performance.per_tag_performance} == {t.id for t in tags.values()}

    training.publish_iteration(project.id, iteration.id, "classifyModel", "/subscriptions/x")
    prediction = clients.prediction()
    answer = prediction.classify_image(project.id, "classifyModel", garment("trousers", 1000))
    assert answer.project == project.id and answer.iteration == iteration.id
    best = answer.predictions[0]
    assert best.tag_name == "trousers" and best.tag_id == tags["trousers"].id
    assert abs(sum(p.probability for p in answer.predictions) - 1) < 1e-3
    by_url = prediction.classify_image_url(project.id, "classifyModel", f"{origin}/dress.png")
    assert by_url.predictions[0].tag_name == "dress"
    nostore = prediction.classify_image_with_no_store(
        project.id, "classifyModel", garment("shirt", 1000)
    )
    assert nostore.predictions[0].tag_name == "shirt"

    with pytest.raises(PredictionError) as not_an_image:
        prediction.classify_image(project.id, "classifyModel", b"not an image")
    assert code(not_an_image.value) == "BadRequestImageFormat"
    with pytest.raises(PredictionError) as gone:
        prediction.classify_image_url(project.id, "classifyModel", f"{origin}/gone.png?fail")
    assert code(gone.value) == "BadRequestImageUrl"

    training.unpublish_iteration(project.id, iteration.id)
    with pytest.raises(PredictionError) as unpublished:
        prediction.classify_image(project.id, "classifyModel", garment("trousers", 1000))
    assert code(unpublished.value) == "NotFound"
    with pytest.raises(CustomVisionErrorException) as unsupported:  # said, never faked
        training.delete_iteration(project.id, iteration.id)
    assert code(unsupported.value) == "BadRequest"
    assert "not supported" in str(unsupported.value.error.message)  # type: ignore[union-attr]

    training.delete_project(project.id)
    with pytest.raises(CustomVisionErrorException) as missing:
        training.get_project(project.id)
    assert code(missing.value) == "NotFound"


def test_wrong_keys_scopes_and_bad_images_answer_the_services_errors(
    server: RunningServer, clients: Clients
) -> None:
    with pytest.raises(CustomVisionErrorException) as refused:
        clients.training("wrong-key").get_projects()
    assert refused.value.response.status_code == 401
    assert code(refused.value) == "Unauthorized"
    response = httpx.get(f"{server.url}/customvision/v3.3/training/projects")
    assert response.status_code == 401 and response.json()["code"] == "Unauthorized"

    training = clients.training()
    project = training.create_project("shapes")
    tag = training.create_tag(project.id, "dress")
    summary = training.create_images_from_data(project.id, b"not an image", tag_ids=[tag.id])
    assert not summary.is_batch_successful
    assert summary.images[0].status == "ErrorImageFormat"
    with pytest.raises(CustomVisionErrorException) as two_tags:  # nothing of the batch is kept
        entries = [
            ImageFileCreateEntry(contents=bytearray(garment("dress", 7)), tag_ids=[tag.id]),
            ImageFileCreateEntry(
                contents=bytearray(garment("shirt", 7)),
                tag_ids=[tag.id, training.create_tag(project.id, "shirt").id],
            ),
        ]
        training.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert code(two_tags.value) == "BadRequestImageTags"
    # The tags stay, without images.
    assert {tag.name: tag.image_count for tag in training.get_tags(project.id)} == {
        "dress": 0,
        "shirt": 0,
    }
    with pytest.raises(CustomVisionErrorException) as bad_name:
        training.create_project("no spaces allowed here")
    assert code(bad_name.value) == "BadRequestProjectName"
    with pytest.raises(CustomVisionErrorException) as too_few:
        training.train_project(project.id)
    assert code(too_few.value) == "BadRequestNotEnoughImagesPerTag"
    with pytest.raises(PredictionError) as unpublished:
        clients.prediction().classify_image(project.id, "any", garment("dress", 1))
    assert code(unpublished.value) == "NotFound"

    writer = server.sightline.keys.create("writer", Scope.WRITE).secret
    iteration = "0" * 8 + "-0000-0000-0000-000000000001"
    with pytest.raises(CustomVisionErrorException) as not_admin:
        clients.training(writer).publish_iteration(project.id, iteration, "name", "resource")
    assert code(not_admin.value) == "Forbidden"


def test_tags_are_kept_with_or_without_images_until_deleted(
    server: RunningServer, clients: Clients
) -> None:
    training = clients.training()
    project = training.create_project("blossoms")
    long_name = "Japanese cherry blossom, " + "x" * 231  # as long as the service allows
    assert len(long_name) == 256
    long = training.create_tag(project.id, long_name, description="in spring")
    empty = training.create_tag(project.id, "été")
    assert training.get_tag(project.id, long.id).name == long_name
    summary = training.create_images_from_data(project.id, garment("dress", 3), tag_ids=[long.id])
    assert summary.is_batch_successful
    assert summary.images[0].image.tags[0].tag_name == long_name
    listed = {
        tag.id: (tag.name, tag.description, tag.image_count)
        for tag in training.get_tags(project.id)
    }
    assert listed == {long.id: (long_name, "in spring", 1), empty.id: ("été", "", 0)}

    with pytest.raises(CustomVisionErrorException) as taken:
        training.create_tag(project.id, "été")
    assert code(taken.value) == "BadRequestTagNameNotUnique"
    with pytest.raises(CustomVisionErrorException) as too_long:
        training.create_tag(project.id, "x" * 257)
    assert code(too_long.value) == "BadRequestTagName"

    # A label made through `/v1` is a tag too, named by its id.
    classifier = ids.classifier_id(project.id)
    server.sightline.classifiers.upload_examples(
        classifier, [Upload(garment("shirt", 4))], ["made through v1"], collection=None
    )
    (adopted,) = [tag for tag in training.get_tags(project.id) if tag.name == "made through v1"]
    assert adopted.image_count == 1
    assert training.get_tag(project.id, adopted.id).name == "made through v1"
    training.delete_tag(project.id, adopted.id)

    training.delete_tag(project.id, long.id)  # and its label on the image
    assert [(tag.name, tag.image_count) for tag in training.get_tags(project.id)] == [("été", 0)]
    with pytest.raises(CustomVisionErrorException) as gone:
        training.get_tag(project.id, long.id)
    assert code(gone.value) == "NotFound"

    training.delete_project(project.id)  # its tags with it
    assert server.sightline.stores.custom_vision_tags.tags(classifier) == []


def test_a_tag_id_is_its_name_s_within_its_project() -> None:
    project, other = "clf_0123456789abcdef", "clf_fedcba9876543210"
    assert ids.tag_id(project, "dress") == ids.tag_id(project, "dress")
    assert ids.tag_id(other, "dress") != ids.tag_id(project, "dress")


def test_project_iteration_and_image_ids_read_back() -> None:
    assert ids.classifier_id(ids.project_id("clf_0123456789abcdef")) == "clf_0123456789abcdef"
    assert (
        ids.version_number("clf_0123456789abcdef", ids.iteration_id("clf_0123456789abcdef", 7)) == 7
    )
    with pytest.raises(ids.UnknownId):  # an iteration is not a project
        ids.classifier_id(ids.iteration_id("clf_0123456789abcdef", 7))
    with pytest.raises(ids.UnknownId):  # nor another project's iteration
        ids.version_number("clf_fedcba9876543210", ids.iteration_id("clf_0123456789abcdef", 7))
    assert ids.image_uuid("img_0123456789abcdef0123456789ab") == (
        "00000123-4567-89ab-cdef-0123456789ab"
    )
