"""`verify_signature`, as receivers use it, against signatures made independently."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sightline.webhooks import signature_header, verify_signature

SECRET = "whsec_a-secret-of-some-length"
BODY = b'{"specversion":"1.0","id":"e1"}'


def independent(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def test_the_header_is_hmac_sha256_over_timestamp_and_body() -> None:
    assert signature_header(SECRET, BODY, timestamp=1_700_000_000) == independent(
        SECRET, 1_700_000_000, BODY
    )


def test_a_fresh_signature_verifies() -> None:
    header = independent(SECRET, 1_700_000_000, BODY)
    assert verify_signature(SECRET, header, BODY, now=1_700_000_100)
    assert verify_signature(SECRET, header, BODY.decode(), now=1_700_000_100)


def test_a_tampered_body_or_a_wrong_secret_fails() -> None:
    header = independent(SECRET, 1_700_000_000, BODY)
    assert not verify_signature(SECRET, header, BODY + b" ", now=1_700_000_000)
    assert not verify_signature(SECRET + "x", header, BODY, now=1_700_000_000)


def test_an_old_or_future_timestamp_fails() -> None:
    header = independent(SECRET, 1_700_000_000, BODY)
    assert not verify_signature(SECRET, header, BODY, now=1_700_000_301)
    assert not verify_signature(SECRET, header, BODY, now=1_699_999_699)
    assert verify_signature(SECRET, header, BODY, tolerance_seconds=600, now=1_700_000_500)


def test_any_of_several_signatures_may_match() -> None:
    good = independent(SECRET, 1_700_000_000, BODY)
    header = f"{good},v1={'0' * 64}"
    assert verify_signature(SECRET, header, BODY, now=1_700_000_000)


def test_malformed_headers_fail() -> None:
    for header in ("", "t=1700000000", "v1=abc", "t=soon,v1=abc", "garbage"):
        assert not verify_signature(SECRET, header, BODY, now=1_700_000_000)


def test_hostile_headers_fail_without_raising() -> None:
    good = independent(SECRET, 1_700_000_000, BODY)
    digest = good.split("v1=")[1]
    hostile: list[Any] = [
        None,
        b"t=1700000000,v1=" + b"\xff" * 64,  # bytes, not ASCII
        "t=1700000000,v1=" + "é" * 64,  # non-ASCII digest
        "t=" + "9" * 5000 + ",v1=" + digest,  # a number int() refuses
        "t=" + "9" * 13 + ",v1=" + digest,  # longer than any unix time
        "t=\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660,v1=" + digest,
        "t=\u00b2,v1=" + digest,  # isdigit() but not a number
        "t=-1700000000,v1=" + digest,
        "t=1700000000,v1=" + digest + "\x00",
    ]
    for header in hostile:
        assert verify_signature(SECRET, header, BODY, now=1_700_000_000) is False, header


def test_a_header_as_bytes_verifies() -> None:
    header = independent(SECRET, 1_700_000_000, BODY)
    assert verify_signature(SECRET, header.encode(), BODY, now=1_700_000_000) is True
