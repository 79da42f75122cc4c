"""SigV4 as AWS checks it: the request's `Authorization` header against the secret of the access
key it names. botocore computes the expected signature (canonical request, string to sign,
signing key), so the facade signs exactly as the SDKs do; only the comparison is ours, in
constant time. botocore comes with the `scale` extra: without it no access key can be checked,
and the facade refuses to start checking rather than accept unchecked signatures."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sightline.errors import ConfigurationError
from sightline.facades.rekognition.errors import (
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from sightline.settings import AwsAccessKey

SERVICE = "rekognition"
# AWS refuses a request whose X-Amz-Date is further than this from its own clock.
MAX_SKEW = timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*"
)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def verify(
    keys: Mapping[str, AwsAccessKey],
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> AwsAccessKey:
    """The access key that signed this request (headers with lower-case names), or the AWS
    error that says why none did."""
    authorization = headers.get("authorization", "")
    if not authorization:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    parsed = _AUTHORIZATION.fullmatch(authorization)
    if parsed is None:
        raise InvalidSignatureException("The Authorization header is not an AWS4-HMAC-SHA256 one.")
    access_key_id, _, scope = parsed["credential"].partition("/")
    date, _, rest = scope.partition("/")
    region, _, rest = rest.partition("/")
    service, _, terminator = rest.partition("/")
    key = keys.get(access_key_id)
    if key is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidSignatureException("X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ.") from None
    if abs(now - signed_at) > MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is more than 15 minutes from the server's time "
            f"({now.strftime(_DATE_FORMAT)})."
        )
    if date != amz_date[:8] or service != SERVICE or terminator != "aws4_request" or not region:
        raise InvalidSignatureException(
            f"The credential scope {scope!r} is not DATE/REGION/{SERVICE}/aws4_request."
        )
    signed = parsed["signed"].split(";")
    if "host" not in signed or any(name not in headers for name in signed):
        raise InvalidSignatureException("The signed headers must include host and be present.")
    declared_hash = headers.get("x-amz-content-sha256")
    if declared_hash is not None and declared_hash != hashlib.sha256(body).hexdigest():
        raise InvalidSignatureException("X-Amz-Content-SHA256 is not the body's.")
    expected = _signature(
        key, region, method, path, query, {name: headers[name] for name in signed}, body, amz_date
    )
    if not hmac.compare_digest(expected.encode(), parsed["signature"].encode()):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return key


def _signature(
    key: AwsAccessKey,
    region: str,
    method: str,
    path: str,
    query: str,
    signed_headers: Mapping[str, str],
    body: bytes,
    amz_date: str,
) -> str:
    try:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError as exc:  # pragma: no cover - the default install lacks the extra
        raise ConfigurationError(
            "Checking AWS signatures needs botocore: pip install 'sightline[scale]'"
        ) from exc
    url = f"http://{signed_headers['host']}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, headers=dict(signed_headers), data=body)
    # The client's time, not ours: the signature covers it.
    request.context["timestamp"] = amz_date
    # Over plain HTTP botocore always hashes the body; over HTTPS the SDKs do for this service.
    request.context["payload_signing_enabled"] = True
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret), SERVICE, region)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    signature: str = signer.signature(string_to_sign, request)
    return signature
