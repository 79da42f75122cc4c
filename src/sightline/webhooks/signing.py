"""Signatures on deliveries: HMAC-SHA256 over the timestamp and the body, in one header.

`Sightline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`. The
timestamp is signed too, so a receiver that checks it (within `tolerance_seconds`) refuses a
recorded delivery replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Sightline-Signature"
MAX_TIMESTAMP_DIGITS = 12  # unix seconds until the year 33658


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header's value for this body, signed now (or at `timestamp`)."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    return f"t={signed_at},v1={_digest(secret, signed_at, body)}"


def verify_signature(
    secret: str,
    header: str | bytes | None,
    body: bytes | str,
    tolerance_seconds: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """For receivers: whether `header` (the `Sightline-Signature` value) signs `body` (the raw
    request body, as received) with `secret`, at a time within `tolerance_seconds` of now.

    Whatever the header holds (missing, bytes, not ASCII, absurd numbers), the answer is a
    bool: a hostile request must not be able to make the receiver raise."""
    try:
        return _verify(secret, header, body, tolerance_seconds, now)
    except (TypeError, ValueError, UnicodeError, OverflowError):
        return False


def _verify(
    secret: str,
    header: str | bytes | None,
    body: bytes | str,
    tolerance_seconds: float,
    now: float | None,
) -> bool:
    if header is None:
        return False
    if isinstance(header, bytes):
        header = header.decode("ascii")  # UnicodeDecodeError (a ValueError): not ours
    if not isinstance(header, str) or not header.isascii():
        return False
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[bytes] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        value = value.strip()
        if key == "t":
            # ASCII digits only (str.isdigit also takes "²" and "١"), and no more than a unix
            # time needs: int() of thousands of digits is slow, then refused by Python.
            if not (value.isdigit() and len(value) <= MAX_TIMESTAMP_DIGITS):
                return False
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value.encode("ascii"))
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, timestamp, raw).encode("ascii")
    # Every candidate is compared, in constant time, so timing tells nothing about the digest.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
