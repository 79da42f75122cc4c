"""`sightline show ID`: one image read out in words."""

from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import RunningServer
from sightline.cli import main
from sightline.cli.show import describe_feature
from sightline.client import Client
from support.imagegen import solid

FEATURES = ["tags", "image_type", "color", "read", "faces", "quality", "objects"]


def test_show_reads_out_each_feature_in_words(server: RunningServer) -> None:
    with Client(server.url) as client:
        image = client.upload(
            solid("blue", size=(120, 80)),
            filename="sky.jpg",
            features=FEATURES,
            metadata={"sku": "A-1"},
        )
    shown = CliRunner().invoke(main, ["show", image["id"], "--wait", "--url", server.url])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert [line for line in lines if line != line.rstrip()] == []  # no padding at line ends
    assert lines[0] == f"sky.jpg  {image['id']}"
    assert lines[1].startswith("120×80, JPEG, ") and ", analysed, uploaded " in lines[1]
    assert "Metadata: sku=A-1" in lines
    said = {line.split("  ", 1)[0]: line.split("  ", 1)[1].strip() for line in lines[4:] if line}
    assert said["Colours"].startswith("blue")
    assert said["Text (OCR)"] == "no text found"
    assert said["Faces"] == "no faces"
    assert said["Objects"].startswith("not applicable: No object detector is installed")
    assert said["Image type"].split(" ")[0] in {"photo", "clip", "line", "document", "screenshot"}
    assert "%" in said["Tags"] and said["Quality"].endswith(("little noise", "low contrast"))
    assert "_" not in shown.stdout.replace(image["id"], "")  # no internal names

    as_json = CliRunner().invoke(main, ["show", image["id"], "--json", "--url", server.url])
    assert json.loads(as_json.stdout)["features"]["color"]["status"] == "done"


def test_failed_and_classifier_features_say_why_and_what() -> None:
    failed = {"status": "failed", "error": {"code": "AnalyzerError", "message": "out of memory"}}
    assert describe_feature("faces", failed) == "failed: out of memory"
    assert describe_feature("tags", {"status": "pending"}) == "waiting"
    tags = [
        {"name": "helmet", "confidence": 0.17, "source": "imagenet"},
        {"name": "brown", "confidence": 0.49, "source": "color"},
    ]
    shown = describe_feature("tags", {"status": "done", "result": {"tags": tags}})
    assert shown == "brown 49%, helmet 17%"  # most confident first
    predicted = {
        "status": "done",
        "result": {
            "classifier": "defects",
            "labels": [{"name": "scratch", "confidence": 0.91}, {"name": "ok", "confidence": 0.09}],
            "predicted": ["scratch"],
        },
    }
    assert describe_feature("custom:defects", predicted) == "scratch (scratch 91%, ok 9%)"
    unsure = {"status": "done", "result": {"labels": [], "predicted": []}}
    assert describe_feature("custom:defects", unsure).startswith("nothing above the threshold")
    text = {"status": "done", "result": {"lines": [{"text": "TOTAL 12.50"}, {"text": "Thanks"}]}}
    assert describe_feature("read", text) == "2 lines: “TOTAL 12.50 / Thanks”"
