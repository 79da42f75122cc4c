"""Custom classifiers through the HTTP API: label, train, evaluate, publish, predict, export,
run on uploads, backfill, and survive a restart."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from conftest import RunningServer, serve
from sightline import Client
from sightline.app import Sightline
from sightline.client.models import ClassifierVersion
from sightline.settings import Settings
from support.apicheck import assert_error
from support.digits import digits, png
from support.garments import KINDS, garment

PER_KIND = 8


@pytest.fixture
def catalogue(client: Client) -> dict[str, list[str]]:
    """Stored garment photos with embeddings, by kind."""
    ids: dict[str, list[str]] = {}
    for kind in KINDS:
        uploaded = client.upload_many(
            [garment(kind, seed) for seed in range(PER_KIND)], features=["embedding"]
        )
        ids[kind] = [image["id"] for image in uploaded]
    for image_id in (i for kind_ids in ids.values() for i in kind_ids):
        assert client.wait(image_id, timeout=60)["status"] == "done"
    return ids


def _trained(
    client: Client, catalogue: dict[str, list[str]], name: str = "shop"
) -> ClassifierVersion:
    client.create_classifier(name, "multiclass", "garment shapes")
    report = client.add_examples(
        name, [(image_id, kind) for kind, ids in catalogue.items() for image_id in ids]
    )
    assert report["failed"] == 0
    version = client.train(name)
    assert version["status"] == "training" and version["number"] == 1
    return client.wait_for_version(name, 1)


def test_a_classifier_learns_garment_shapes_from_labelled_uploads(
    client: Client, catalogue: dict[str, list[str]]
) -> None:
    version = _trained(client, catalogue)
    assert version["status"] == "ready", version
    metrics = version["metrics"]
    assert metrics["overall"]["accuracy"] >= 0.9
    assert {entry["name"] for entry in metrics["labels"]} == set(KINDS)
    matrix = metrics["confusion_matrix"]
    assert sum(map(sum, matrix["matrix"])) == PER_KIND * len(KINDS)
    off_diagonal = sum(
        n for r, row in enumerate(matrix["matrix"]) for c, n in enumerate(row) if r != c
    )
    assert len(matrix["misclassified"]) == off_diagonal
    for wrong in matrix["misclassified"]:  # the stored images that fell off the diagonal
        assert (
            wrong["image_id"] in catalogue[wrong["actual"]]
            and wrong["predicted"] != wrong["actual"]
        )
    assert version["labels"] == sorted(KINDS) and version["example_count"] == 24
    head = metrics["head"]
    names = [candidate["name"] for candidate in head["candidates"]]
    assert "embedding/linear" in names and "hog/linear" in names  # small pictures: pixels too
    assert "embedding+early/linear" in names and "hog/linear+shift" in names  # and few
    assert head["chosen"] in names and head["selected_by"] == "accuracy"
    best = max(candidate["cv_accuracy"] for candidate in head["candidates"])
    assert metrics["overall"]["accuracy"] == best
    assert version["threshold"] == 0.0  # none asked for: the top label is predicted

    client.publish("shop", 1)
    for kind in KINDS:
        unseen = client.predict("shop", garment(kind, 100))
        assert unseen["predicted"] == [kind], unseen
        assert unseen["labels"][0]["name"] == kind
        assert abs(sum(label["confidence"] for label in unseen["labels"]) - 1) < 0.01
    by_id = client.predict("shop", image_id=catalogue["dress"][0])
    assert by_id["classifier"]["version"] == 1 and by_id["labels"][0]["name"] == "dress"


def test_training_below_five_examples_per_label_is_refused_at_once(client: Client) -> None:
    uploaded = client.upload_many([garment(kind, 0) for kind in KINDS], features=["embedding"])
    client.create_classifier("tiny", "multiclass")
    client.add_examples(
        "tiny", [(image["id"], kind) for image, kind in zip(uploaded, KINDS, strict=True)]
    )
    with pytest.raises(Exception) as refused:
        client.train("tiny")
    assert getattr(refused.value, "code", None) == "NotEnoughExamples"
    assert client.classifier("tiny")["labels"] == [
        {"name": kind, "examples": 1} for kind in sorted(KINDS)
    ]


def test_batch_labelling_reports_each_item(client: Client, server: RunningServer) -> None:
    image = client.upload(garment("dress", 1))
    client.create_classifier("mixed", "multiclass")
    response = httpx.post(
        f"{server.url}/v1/classifiers/mixed/examples",
        json={
            "examples": [
                {"image_id": image["id"], "labels": ["dress"]},
                {"image_id": "img_000000000000ffffffffffffffff", "labels": ["dress"]},
                {"image_id": image["id"], "labels": ["dress", "shirt"]},
                {"image_id": image["id"], "labels": []},
            ]
        },
    )
    assert response.status_code == 207
    body = response.json()
    assert [item["status"] for item in body["items"]] == [201, 404, 400, 400]
    assert body["succeeded"] == 1 and body["failed"] == 3
    assert body["items"][1]["error"]["code"] == "ImageNotFound"
    # The labelled image had no embedding: one is requested so that training finds it stored.
    assert "embedding" not in image["features"]
    assert "embedding" in client.get(image["id"])["features"]
    # Relabelling an image of a multiclass classifier replaces its label.
    client.add_examples("mixed", [(image["id"], "shirt")])
    assert client.examples("mixed") == [{"image_id": image["id"], "labels": ["shirt"]}]
    assert client.remove_examples("mixed", [image["id"]]) == 1
    assert client.examples("mixed") == []


def test_uploaded_examples_are_stored_labelled_and_bad_files_fail_alone(client: Client) -> None:
    client.create_classifier("uploads", "multilabel")
    report = client.upload_examples(
        "uploads", [garment("shirt", 1), b"not an image", garment("shirt", 2)], ["shirt", "top"]
    )
    assert [item["status"] for item in report["items"]] == [201, 400, 201]
    assert report["items"][1]["error"]["code"] == "InvalidImageFormat"
    examples = client.examples("uploads")
    assert len(examples) == 2 and all(e["labels"] == ["shirt", "top"] for e in examples)
    stored = client.get(examples[0]["image_id"])
    assert "embedding" in stored["features"]


def test_classifier_errors_have_stable_codes(client: Client, server: RunningServer) -> None:
    url = f"{server.url}/v1/classifiers"
    assert_error(httpx.get(f"{url}/nope"), 404, "ClassifierNotFound")
    assert_error(
        httpx.post(url, json={"name": "bad name!", "kind": "multiclass"}), 400, "InvalidParameter"
    )
    assert_error(httpx.post(url, json={"name": "x", "kind": "binary"}), 400, "InvalidParameter")
    assert_error(
        httpx.post(url, content=b"{", headers={"content-type": "application/json"}),
        400,
        "InvalidJson",
    )
    client.create_classifier("taken")
    assert_error(
        httpx.post(url, json={"name": "taken", "kind": "multiclass"}), 409, "ClassifierExists"
    )
    assert_error(httpx.get(f"{url}/taken/versions/3"), 404, "ClassifierVersionNotFound")
    assert_error(httpx.post(f"{url}/taken/predict", json={"image_id": "img_x"}), 409, "NotReady")
    assert_error(httpx.patch(f"{url}/taken", json={"run_on_upload": True}), 409, "NotReady")
    assert_error(httpx.post(f"{url}/taken/backfill"), 409, "NotReady")


def test_export_runs_in_onnxruntime_to_the_same_probabilities(
    client: Client, catalogue: dict[str, list[str]]
) -> None:
    assert _trained(client, catalogue)["status"] == "ready"
    bundle = zipfile.ZipFile(io.BytesIO(client.export("shop", 1)))
    assert set(bundle.namelist()) == {"model.onnx", "labels.txt", "classifier.json"}
    labels = bundle.read("labels.txt").decode().split()
    info = json.loads(bundle.read("classifier.json"))
    assert labels == info["labels"] == sorted(KINDS)
    session = ort.InferenceSession(bundle.read("model.onnx"))
    image_id = catalogue["trousers"][3]
    vector = np.asarray(
        client.get(image_id, include_vectors=True)["features"]["embedding"]["result"]["vector"],
        np.float32,
    )
    (probabilities,) = session.run(None, {session.get_inputs()[0].name: vector[None, :]})
    served = client.predict("shop", image_id=image_id, version=1)
    expected = {label["name"]: label["confidence"] for label in served["labels"]}
    for label, probability in zip(labels, probabilities[0], strict=True):
        assert probability == pytest.approx(expected[label], abs=1e-3)


def test_small_greyscale_digits_train_a_pixel_head_that_predicts_on_new_pictures(
    client: Client, server: RunningServer
) -> None:
    known, unseen = digits(8, classes=range(5))
    uploaded = client.upload_many([png(p) for p in known.pictures], features=["embedding"])
    for image in uploaded:
        assert client.wait(image["id"], timeout=60)["status"] == "done"
    client.create_classifier("digits", "multiclass")
    pairs = [(image["id"], label) for image, label in zip(uploaded, known.labels, strict=True)]
    assert client.add_examples("digits", pairs)["failed"] == 0
    client.train("digits")
    version = client.wait_for_version("digits", 1)
    assert version["status"] == "ready", version
    head = version["metrics"]["head"]
    scores = {candidate["name"]: candidate["cv_accuracy"] for candidate in head["candidates"]}
    assert head["chosen"] != "embedding/linear"
    assert scores[head["chosen"]] > scores["embedding/linear"]
    assert version["metrics"]["model"]["input"] == head["chosen"].split("/")[0]

    answers = [client.predict("digits", png(p), version=1) for p in unseen.pictures]
    right = [a["predicted"] == [label] for a, label in zip(answers, unseen.labels, strict=True)]
    assert np.mean(right) >= 0.85
    assert all(len(answer["predicted"]) == 1 for answer in answers)
    by_id = client.predict("digits", image_id=uploaded[0]["id"], version=1)
    assert by_id["predicted"] == [known.labels[0]]
    client.publish("digits", 1)
    new = client.upload(png(unseen.pictures[0]), features=["custom:digits"])
    feature = _wait_for_feature(client, new["id"], "custom:digits")
    assert feature["predicted"] == answers[0]["predicted"]
    assert_error(
        httpx.get(f"{server.url}/v1/classifiers/digits/versions/1/export"),
        409,
        "HeadNotExportable",
    )

    client.train("digits", threshold=0.99)
    strict = client.wait_for_version("digits", 2)
    assert strict["threshold"] == 0.99 and strict["metrics"]["threshold"] == 0.99
    answers = [client.predict("digits", png(p), version=2) for p in unseen.pictures[:10]]
    assert any(answer["predicted"] == [] for answer in answers)  # unsure ones: none


def _wait_for_feature(client: Client, image_id: str, feature: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        image = client.get(image_id)
        state = image["features"].get(feature)
        if state is not None and state["status"] == "done":
            return state["result"]
        time.sleep(0.1)
    raise AssertionError(f"{feature} never finished on {image_id}: {client.get(image_id)}")


def test_a_published_classifier_runs_on_new_uploads_and_backfills_old_ones(
    client: Client, server: RunningServer, catalogue: dict[str, list[str]]
) -> None:
    assert _trained(client, catalogue)["status"] == "ready"
    client.publish("shop", 1)
    updated = client.update_classifier("shop", run_on_upload=True)
    assert updated["run_on_upload"] and updated["feature"] == "custom:shop"

    fresh = client.upload(garment("shirt", 200))  # no features named: the default set
    assert "custom:shop" in fresh["features"]
    listed = httpx.get(f"{server.url}/v1/features").json()["items"]
    assert {"name": "custom:shop", "version": "1", "default": True} in listed
    result = _wait_for_feature(client, fresh["id"], "custom:shop")
    assert result["predicted"] == ["shirt"] and result["classifier"]["version"] == 1

    old = catalogue["trousers"][0]
    assert "custom:shop" not in client.get(old)["features"]
    client.backfill("shop")
    assert _wait_for_feature(client, old, "custom:shop")["predicted"] == ["trousers"]


def test_a_classifier_attached_by_another_process_reaches_the_next_upload_here(
    client: Client, settings: Settings, catalogue: dict[str, list[str]]
) -> None:
    """A process keeps which classifiers its uploads get; another process (here a second app on
    the same catalog, as a second API replica would be) changing them renews the mark each
    upload's write checks, so the next upload here gets the classifier all the same."""
    assert _trained(client, catalogue)["status"] == "ready"
    assert "custom:shop" not in client.upload(garment("dress", 201))["features"]
    other = Sightline(settings.model_copy(update={"workers": 0}))
    try:
        other.classifiers.publish("shop", 1, collection=None)
        other.classifiers.update("shop", collection=None, run_on_upload=True)
    finally:
        other.close()
    attached = client.upload(garment("shirt", 202))
    assert "custom:shop" in attached["features"]
    assert _wait_for_feature(client, attached["id"], "custom:shop")["predicted"] == ["shirt"]

    other = Sightline(settings.model_copy(update={"workers": 0}))
    try:
        other.classifiers.delete("shop", collection=None)
    finally:
        other.close()
    assert "custom:shop" not in client.upload(garment("shirt", 203))["features"]


def test_versions_and_predictions_survive_a_restart(settings: Settings) -> None:
    first = Sightline(settings)
    with serve(first) as running, Client(running.url) as api:
        images = {
            kind: [
                api.upload(garment(kind, seed), features=["embedding"])["id"] for seed in range(6)
            ]
            for kind in KINDS
        }
        for ids in images.values():
            for image_id in ids:
                api.wait(image_id, timeout=60)
        assert _trained(api, images, "kept")["status"] == "ready"
        api.publish("kept", 1)
        before = api.predict("kept", garment("dress", 300))
    first.close()

    second = Sightline(settings)
    try:
        with serve(second) as running, Client(running.url) as api:
            assert api.classifier("kept")["published_version"] == 1
            assert api.version("kept", 1)["metrics"] is not None
            assert api.predict("kept", garment("dress", 300)) == before
    finally:
        second.close()
