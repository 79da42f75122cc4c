"""`sightline classifiers` against a running server: labelled from a folder per label, trained
with its metrics printed, tested on held-out folders, published and backfilled."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from conftest import RunningServer
from sightline import Client
from sightline.cli import main
from support.garments import KINDS, garment


def sightline(server: RunningServer, *arguments: str) -> Result:
    return CliRunner().invoke(main, [*arguments, "--url", server.url])


def per_label(folder: Path, seeds: range) -> Path:
    for kind in KINDS:
        (folder / kind).mkdir(parents=True)
        for seed in seeds:
            (folder / kind / f"{kind}-{seed}.jpg").write_bytes(garment(kind, seed))
    return folder


def test_a_classifier_from_folders_per_label(
    server: RunningServer, client: Client, tmp_path: Path
) -> None:
    photos = per_label(tmp_path / "photos", range(6))
    (photos / "dress" / "broken.jpg").write_bytes(b"not a picture")
    created = sightline(server, "classifiers", "create", "shop", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["name"] == "shop"

    labelled = sightline(server, "classifiers", "label", "shop", str(photos), "--jsonl")
    assert labelled.exit_code == 1, labelled.output  # the broken file, after the others
    rows = [json.loads(line) for line in labelled.stdout.splitlines()]
    outcomes = {(Path(row["path"]).name, row["labels"][0]): row["outcome"] for row in rows}
    assert outcomes.pop(("broken.jpg", "dress")) == "rejected"
    assert set(outcomes.values()) == {"uploaded"} and len(outcomes) == 18
    assert labelled.stderr.splitlines() == [
        "19 files: 1 rejected, 18 uploaded; examples per label: dress 6, shirt 6, trousers 6."
    ]
    # Again (and in the LABEL FILES… form): content already stored is labelled, not re-sent.
    again = sightline(
        server, "classifiers", "label", "shop", "shirt", str(photos / "shirt"), "--jsonl"
    )
    assert again.exit_code == 0, again.output
    assert {json.loads(line)["outcome"] for line in again.stdout.splitlines()} == {"labelled"}
    assert len(list(client.iter_images())) == 18

    trained = sightline(server, "classifiers", "train", "shop")
    assert trained.exit_code == 0, trained.output
    assert "Version 1: ready" in trained.stdout and "Accuracy" in trained.stdout
    assert "Per label" in trained.stdout and "Confusion" in trained.stdout
    for kind in KINDS:
        assert kind in trained.stdout

    published = sightline(server, "classifiers", "publish", "shop", "1", "--json")
    assert published.exit_code == 0, published.output
    assert json.loads(published.stdout)["published_version"] == 1

    held_out = per_label(tmp_path / "held-out", range(100, 103))
    tested = sightline(server, "classifiers", "test", "shop", str(held_out))
    assert tested.exit_code == 0, tested.output
    lines = tested.stdout.splitlines()
    assert lines[0] == "File\tPredicted\tConfidence\tExpected\tProblem"
    predicted = {line.split("\t")[0]: line.split("\t")[1:4:2] for line in lines[1:10]}
    assert len(predicted) == 9
    right = sum(guess == truth for guess, truth in predicted.values())
    assert f"Accuracy: {right / 9:.3f} ({right} of 9 files)." in tested.stderr.splitlines()
    assert right >= 8, predicted

    one = sightline(
        server,
        "classifiers",
        "predict",
        "shop",
        str(held_out / "dress" / "dress-100.jpg"),
        "--json",
    )
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["predicted"] == ["dress"]

    backfilled = sightline(server, "classifiers", "backfill", "shop", "--json")
    assert backfilled.exit_code == 0, backfilled.output
    assert "18 of 18 images have version 1's prediction." in backfilled.stderr.splitlines()
    for image in client.iter_images():
        assert image["features"]["custom:shop"]["status"] == "done"


def test_label_without_a_folder_per_label_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "flat.jpg").write_bytes(garment("dress", 1))
    result = CliRunner().invoke(
        main, ["classifiers", "label", "shop", str(tmp_path), "--url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert "folder named after the label" in result.output


def test_classifier_commands_work_in_the_collection_given(server: RunningServer) -> None:
    for collection in ("shop", "studio"):
        created = sightline(
            server, "classifiers", "create", "pets", "--collection", collection, "--json"
        )
        assert created.exit_code == 0, created.output
        assert json.loads(created.stdout)["collection"] == collection
    # Each collection has its own `pets`: the name is looked for in the one given.
    refused = sightline(server, "classifiers", "train", "pets", "--collection", "attic")
    assert refused.exit_code == 1
    assert "ClassifierNotFound" in refused.stderr
