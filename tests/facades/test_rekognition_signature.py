"""SigV4 checks of the Rekognition facade on requests botocore signs, as the SDKs do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sightline.facades.rekognition.errors import AwsError
from sightline.facades.rekognition.signature import verify
from sightline.settings import AwsAccessKey

KEY = AwsAccessKey("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "write", None)
KEYS = {KEY.access_key_id: KEY}
BODY = b'{"Image": {"Bytes": "aGVsbG8="}}'


def signed(body: bytes = BODY, service: str = "rekognition") -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url="http://sightline.test:8000/",
        data=body,
        headers={
            "X-Amz-Target": "RekognitionService.DetectLabels",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials(KEY.access_key_id, KEY.secret), service, "us-east-1").add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    return headers | {"host": "sightline.test:8000"}


def check(headers: dict[str, str], body: bytes = BODY, now: datetime | None = None) -> str:
    try:
        verify(KEYS, "POST", "/", "", headers, body, now or datetime.now(UTC))
    except AwsError as error:
        return error.code
    return "ok"


def test_a_request_signed_by_botocore_passes() -> None:
    assert check(signed()) == "ok"


def test_a_changed_body_fails() -> None:
    assert check(signed(), body=BODY.replace(b"aGVs", b"aGVt")) == "InvalidSignatureException"


def test_a_changed_signed_header_fails() -> None:
    headers = signed() | {"x-amz-target": "RekognitionService.DetectFaces"}
    assert check(headers) == "InvalidSignatureException"


@pytest.mark.parametrize("minutes", [-16, 16])
def test_a_signature_over_15_minutes_off_the_clock_fails(minutes: int) -> None:
    later = datetime.now(UTC) + timedelta(minutes=minutes)
    assert check(signed(), now=later) == "InvalidSignatureException"


def test_a_signature_for_another_service_fails() -> None:
    assert check(signed(service="s3")) == "InvalidSignatureException"


def test_no_authorization_and_an_unknown_key_are_told_apart() -> None:
    headers = signed()
    assert check({k: v for k, v in headers.items() if k != "authorization"}) == (
        "MissingAuthenticationTokenException"
    )
    unknown = headers | {"authorization": headers["authorization"].replace("AKIDEXAMPLE", "AKID2")}
    assert check(unknown) == "UnrecognizedClientException"
