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


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header's value for this body, signed now (or at `timestamp`)."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    return f"t={signed_at},v1={_digest(secret, signed_at, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes | str,
    tolerance_seconds: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """For receivers: whether `header` (the `Sightline-Signature` value) signs `body` (the raw
    request body, as received) with `secret`, at a time within `tolerance_seconds` of now."""
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, timestamp, raw)
    # Every candidate is compared, in constant time, so timing tells nothing about the digest.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
