"""The AWS Rekognition facade driven by boto3's own `rekognition` client, pointed at a live
server with `endpoint_url`: SigV4 checked against SIGHTLINE_AWS_ACCESS_KEYS, Rekognition's
shapes and errors, image bytes and S3 objects of the server's S3 blob store."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from PIL import Image
from skimage import data

from conftest import TEST_SETTINGS, RunningServer, serving
from sightline.settings import Settings
from support.documents import memo
from support.services import Stack

ACCESS_KEY = "AKIASIGHTLINETEST01"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSIGHTLINE1"
READ_ONLY = "AKIASIGHTLINEREAD01"
KEYS = f"{ACCESS_KEY}:{SECRET},{READ_ONLY}:{SECRET}:read"
TOP_STRIP = {"Left": 0, "Top": 0, "Width": 1, "Height": 0.15}


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


ASTRONAUT = jpeg(Image.fromarray(data.astronaut()))
CAT = jpeg(Image.fromarray(data.chelsea()))


def rekognition(server: RunningServer, key: str = ACCESS_KEY, secret: str = SECRET) -> Any:
    return boto3.client(
        "rekognition",
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", **TEST_SETTINGS, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = tmp_path_factory.mktemp("rekognition")
    with serving(settings_for(path, aws_access_keys=KEYS)) as running:
        yield running


def error_of(call: Any, **parameters: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**parameters)
    found: dict[str, Any] = raised.value.response["Error"]
    return found


def test_detect_labels_names_the_cat_with_its_broader_terms(server: RunningServer) -> None:
    answer = rekognition(server).detect_labels(Image={"Bytes": CAT}, MinConfidence=10)
    names = [label["Name"] for label in answer["Labels"]]
    assert "Cat" in names or any("Cat" in name for name in names), names
    assert all(10 <= label["Confidence"] <= 100 for label in answer["Labels"])
    assert answer["LabelModelVersion"]
    parents = {label["Name"]: [p["Name"] for p in label["Parents"]] for label in answer["Labels"]}
    # Every parent is a label of its own, as Rekognition lists "Animal" beside "Cat".
    assert all(parent in parents for listed in parents.values() for parent in listed)


def test_detect_labels_filters_and_caps(server: RunningServer) -> None:
    client = rekognition(server)
    everything = client.detect_labels(Image={"Bytes": CAT}, MinConfidence=0)["Labels"]
    assert len(everything) > 2
    top = client.detect_labels(Image={"Bytes": CAT}, MinConfidence=0, MaxLabels=2)["Labels"]
    assert top == everything[:2]
    first = everything[0]["Name"]
    excluded = client.detect_labels(
        Image={"Bytes": CAT},
        MinConfidence=0,
        Settings={"GeneralLabels": {"LabelExclusionFilters": [first]}},
    )["Labels"]
    assert first not in [label["Name"] for label in excluded]
    error = error_of(client.detect_labels, Image={"Bytes": CAT}, Features=["IMAGE_PROPERTIES"])
    assert error["Code"] == "InvalidParameterException"


def test_detect_text_answers_lines_then_words(server: RunningServer) -> None:
    document = memo()
    answer = rekognition(server).detect_text(Image={"Bytes": jpeg(document.image)})
    detections = answer["TextDetections"]
    lines = [d for d in detections if d["Type"] == "LINE"]
    words = [d for d in detections if d["Type"] == "WORD"]
    assert lines and words and detections == [*lines, *words]
    assert [d["Id"] for d in detections] == list(range(len(detections)))
    assert {w["ParentId"] for w in words} <= {line["Id"] for line in lines}
    assert document.lines[0].split()[0] in lines[0]["DetectedText"]
    box = lines[0]["Geometry"]["BoundingBox"]
    assert 0 <= box["Left"] < 1 and 0 < box["Width"] <= 1
    assert len(lines[0]["Geometry"]["Polygon"]) == 4
    assert answer["TextModelVersion"]
    sure = rekognition(server).detect_text(
        Image={"Bytes": jpeg(document.image)},
        Filters={
            "RegionsOfInterest": [
                {"BoundingBox": {"Left": 0, "Top": 0, "Width": 1, "Height": 0.15}}
            ]
        },
    )["TextDetections"]
    assert sure and all(d["Geometry"]["BoundingBox"]["Top"] < 0.15 for d in sure)


def test_detect_faces_finds_the_astronaut(server: RunningServer) -> None:
    client = rekognition(server)
    answer = client.detect_faces(Image={"Bytes": ASTRONAUT}, Attributes=["ALL"])
    [face] = answer["FaceDetails"]
    box = face["BoundingBox"]
    assert 0.3 < box["Left"] < 0.5 and 0.05 < box["Top"] < 0.2
    assert face["Confidence"] > 50
    landmarks = {mark["Type"]: mark for mark in face["Landmarks"]}
    assert set(landmarks) == {"eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"}
    # As Rekognition names them: eyeLeft is the one on the left of the picture.
    assert landmarks["eyeLeft"]["X"] < landmarks["eyeRight"]["X"]
    assert "AgeRange" not in face and "Gender" not in face
    error = error_of(client.detect_faces, Image={"Bytes": ASTRONAUT}, Attributes=["AGE_RANGE"])
    assert error["Code"] == "InvalidParameterException"


def test_detect_faces_answers_only_what_is_measured_whatever_attributes_ask(
    server: RunningServer,
) -> None:
    """No age, gender, emotion, pose or quality is made up: `ALL` answers what `DEFAULT` does,
    the box, the five landmarks and the confidence; an attribute asked for by name is refused
    rather than left out silently."""
    client = rekognition(server)
    answers = [
        client.detect_faces(Image={"Bytes": ASTRONAUT}, **attributes)["FaceDetails"]
        for attributes in ({}, {"Attributes": ["DEFAULT"]}, {"Attributes": ["ALL"]})
    ]
    assert answers[0] == answers[1] == answers[2]
    [face] = answers[2]
    assert set(face) == {"BoundingBox", "Landmarks", "Confidence"}
    for named in (["GENDER"], ["ALL", "AGE_RANGE"], ["EMOTIONS"]):
        error = error_of(client.detect_faces, Image={"Bytes": ASTRONAUT}, Attributes=named)
        assert error["Code"] == "InvalidParameterException"


def test_detect_moderation_labels_on_a_safe_picture(server: RunningServer) -> None:
    answer = rekognition(server).detect_moderation_labels(Image={"Bytes": ASTRONAUT})
    assert answer["ModerationLabels"] == []
    assert answer["ModerationModelVersion"]


def test_a_wrong_secret_is_an_invalid_signature(server: RunningServer) -> None:
    error = error_of(
        rekognition(server, secret="not-the-secret").detect_labels, Image={"Bytes": CAT}
    )
    assert error["Code"] == "InvalidSignatureException"


def test_an_unknown_key_is_an_unrecognized_client(server: RunningServer) -> None:
    error = error_of(rekognition(server, key="AKIAUNKNOWN").detect_labels, Image={"Bytes": CAT})
    assert error["Code"] == "UnrecognizedClientException"


def test_an_unsigned_request_is_refused(server: RunningServer) -> None:
    response = httpx.post(
        server.url,
        headers={
            "X-Amz-Target": "RekognitionService.DetectLabels",
            "Content-Type": "application/x-amz-json-1.1",
        },
        content=b'{"Image": {"Bytes": ""}}',
    )
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.json()["__type"] == "MissingAuthenticationTokenException"


def test_a_read_only_key_may_not_analyse(server: RunningServer) -> None:
    error = error_of(rekognition(server, key=READ_ONLY).detect_labels, Image={"Bytes": CAT})
    assert error["Code"] == "AccessDeniedException"


def test_bad_images_are_answered_as_rekognition_does(server: RunningServer) -> None:
    client = rekognition(server)
    error = error_of(client.detect_labels, Image={"Bytes": b"this is not an image"})
    assert error["Code"] == "InvalidImageFormatException"
    too_large = b"\xff\xd8" + bytes(5 * 1024 * 1024)
    error = error_of(client.detect_text, Image={"Bytes": too_large})
    assert error["Code"] == "ImageTooLargeException"
    error = error_of(client.detect_faces, Image={"S3Object": {"Bucket": "photos", "Name": "a.jpg"}})
    assert error["Code"] == "InvalidS3ObjectException"  # this server keeps blobs in a folder
    # The service is still serving.
    assert rekognition(server).detect_faces(Image={"Bytes": ASTRONAUT})["FaceDetails"]


def signed_post(server: RunningServer, target: str, body: bytes) -> httpx.Response:
    """A request signed as the SDKs sign, with a body they would refuse to send."""
    request = AWSRequest(
        method="POST",
        url=f"{server.url}/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET), "rekognition", "eu-west-1").add_auth(request)
    return httpx.post(f"{server.url}/", content=body, headers=dict(request.headers.items()))


CAT_B64 = base64.b64encode(CAT).decode()


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("RekognitionService.IndexFaces", b"{}", "UnknownOperationException"),
        ("RekognitionService.DetectLabels", b"not json", "SerializationException"),
        ("RekognitionService.DetectLabels", b"[1]", "SerializationException"),
        ("RekognitionService.DetectLabels", b"{}", "InvalidParameterException"),
        (
            "RekognitionService.DetectLabels",
            b'{"Image": {"Bytes": "%s"}, "MinConfidence": "55"}' % CAT_B64.encode(),
            "InvalidParameterException",
        ),
        (
            "RekognitionService.DetectLabels",
            b'{"Image": {"Bytes": "%s"}, "MinConfidence": 101}' % CAT_B64.encode(),
            "InvalidParameterException",
        ),
        (
            "RekognitionService.DetectLabels",
            b'{"Image": {"Bytes": "%s"}, "Surprise": 1}' % CAT_B64.encode(),
            "InvalidParameterException",
        ),
        (
            "RekognitionService.DetectLabels",
            b'{"Image": {"Bytes": "%s", "S3Object": {"Bucket": "abc", "Name": "a"}}}'
            % CAT_B64.encode(),
            "InvalidParameterException",
        ),
        (
            "RekognitionService.DetectText",
            b'{"Image": {"Bytes": "%%%%"}}',
            "InvalidParameterException",
        ),
        (
            "RekognitionService.DetectLabels",
            b'{"Image": {"Bytes": "%s"}, "Settings": {"GeneralLabels": '
            b'{"LabelInclusionFilters": [7]}}}' % CAT_B64.encode(),
            "InvalidParameterException",
        ),
        (
            "RekognitionService.DetectModerationLabels",
            b'{"Image": {"Bytes": "%s"}, "ProjectVersion": "arn"}' % CAT_B64.encode(),
            "InvalidParameterException",
        ),
    ],
)
def test_requests_the_sdks_would_not_send_are_refused(
    server: RunningServer, target: str, body: bytes, code: str
) -> None:
    response = signed_post(server, target, body)
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == code
    assert response.headers["x-amzn-ErrorType"] == code


def test_an_open_server_needs_no_signature(tmp_path: Path) -> None:
    with serving(settings_for(tmp_path)) as open_server:
        answer = rekognition(open_server, key="anything", secret="any").detect_faces(
            Image={"Bytes": ASTRONAUT}
        )
    assert len(answer["FaceDetails"]) == 1


def test_sightline_keys_alone_close_the_facade(tmp_path: Path) -> None:
    with serving(settings_for(tmp_path, api_keys="sl-admin-key")) as closed:
        error = error_of(rekognition(closed).detect_faces, Image={"Bytes": ASTRONAUT})
    assert error["Code"] == "UnrecognizedClientException"


@pytest.mark.s3
def test_s3_objects_are_read_from_the_blob_store(services: Stack, tmp_path: Path) -> None:
    bucket = services.s3.new_bucket()
    services.s3.client().put_object(Bucket=bucket, Key="people/astronaut.jpg", Body=ASTRONAUT)
    settings = settings_for(
        tmp_path, aws_access_keys=KEYS, blob_url=services.s3.blob_url(bucket, "sightline")
    )
    with serving(settings) as s3_server:
        client = rekognition(s3_server)
        answer = client.detect_faces(
            Image={"S3Object": {"Bucket": bucket, "Name": "people/astronaut.jpg"}}
        )
        assert len(answer["FaceDetails"]) == 1
        error = error_of(
            client.detect_labels, Image={"S3Object": {"Bucket": bucket, "Name": "missing.jpg"}}
        )
        assert error["Code"] == "InvalidS3ObjectException"
